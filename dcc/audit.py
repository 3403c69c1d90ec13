"""Recording who did what, in the transaction that did it.

Field diffs come from django-simple-history: ``attribute`` stamps the acting
user and the reason on the instance before it is saved, so the history row
carries both (outside a request the middleware cannot supply them).
``record`` writes an explicit ``AuditEvent`` for what a diff cannot say.
"""

from django.contrib.contenttypes.models import ContentType


def attribute(instance, *, actor, reason: str = ""):
    instance._history_user = actor
    if reason:
        instance._change_reason = reason
    return instance


def assign(instance, values: dict) -> dict[str, list[str]]:
    """Set ``values`` on ``instance``; the fields whose value changed, as
    ``[old, new]`` text (for ``record``)."""
    changed = {}
    for name, value in values.items():
        if getattr(instance, name) != value:
            changed[name] = [str(getattr(instance, name)), str(value)]
            setattr(instance, name, value)
    return changed


def record(name: str, *, actor, target=None, store=None, **data):
    from dcc.models import AuditEvent

    if store is None and target is not None:
        store = getattr(target, "store", None)
    return AuditEvent.objects.create(
        name=name,
        actor=actor if getattr(actor, "pk", None) else None,
        store=store,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=target.pk if target is not None else None,
        data=data,
    )
