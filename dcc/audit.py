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


def record_many(name: str, *, actor, model, rows, batch_size: int = 1000) -> None:
    """``record`` for the bulk paths (imports, sweeps, distribution): one
    event per ``(target_id, store_id, data)`` of ``rows``, each on a
    ``model`` row, written in one INSERT per batch."""
    from dcc.models import AuditEvent

    target_type = ContentType.objects.get_for_model(model)
    actor_id = getattr(actor, "pk", None)
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                name=name,
                actor_id=actor_id,
                store_id=store_id,
                target_type=target_type,
                target_id=target_id,
                data=data,
            )
            for target_id, store_id, data in rows
        ],
        batch_size=batch_size,
    )


# ---------------------------------------------------------------- access to customer lists

# Customer lists leave a dealership through bulk views and exports (issue
# "Hold under attack and faults", point 11): each one is an ``AuditEvent``
# named ``access.<what>`` with who (``actor``), when (``created_at``), the
# store it was read in, the filter or query, how many rows and the lead ids
# (at most ``ACCESS_MAX_IDS``). Managers read their store's on the access
# log page (``dcc.views.access_log``), the group administrator every store's.
ACCESS_PREFIX = "access."
ACCESS_MAX_IDS = 200
# A lead list page showing at least this many leads is a bulk view.
BULK_VIEW_THRESHOLD = 10
_QUERY_MAX_KEYS, _QUERY_MAX_VALUE = 20, 200


def query_of(params) -> dict:
    """A request's query string (a ``QueryDict``) or a dict, bounded, for
    ``record_access``: each name's values, long ones cut."""
    getlist = getattr(params, "getlist", None)
    query = {}
    for key in list(params)[:_QUERY_MAX_KEYS]:
        values = getlist(key) if getlist else [params[key]]
        values = [str(value)[:_QUERY_MAX_VALUE] for value in values]
        query[str(key)[:_QUERY_MAX_VALUE]] = values[0] if len(values) == 1 else values
    return query


def record_access(what: str, *, actor, store=None, query=None, lead_ids=(), count=None):
    """Log that ``actor`` read a list of customer rows or an export:
    ``what`` (e.g. ``leads.list``), the filter (``query``), how many rows
    (``count``, default: the ids given) and the first ``ACCESS_MAX_IDS``
    lead ids. ``store`` defaults to the actor's."""
    from dcc.models import AuditEvent

    ids = list(lead_ids)
    # One INSERT: the store by id (a list page pays one query for its log).
    return AuditEvent.objects.create(
        name=f"{ACCESS_PREFIX}{what}",
        actor=actor if getattr(actor, "pk", None) else None,
        store_id=store.pk if store is not None else getattr(actor, "store_id", None),
        data={
            "query": query or {},
            "count": len(ids) if count is None else count,
            "lead_ids": ids[:ACCESS_MAX_IDS],
            "ids_truncated": len(ids) > ACCESS_MAX_IDS,
        },
    )
