"""The lead's timeline as people read it: ``{% lead_timeline lead %}``.

``leads.selectors.lead_timeline`` returns raw history diffs and audit events;
this tag gives them labels (the known event names), names for ids, choice
labels for codes, and shows each service step once. Presentation only: what
happened is decided by the services that wrote the rows.
"""

from datetime import date, datetime, timedelta

from django import template
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dcc.models import User
from dcc.timeutils import local_minute
from followups.models import Channel as ContactChannel
from followups.models import FollowUp, Result
from leads import phones, selectors
from leads.models import Channel, DefeatReason, InvalidReason, Lead, Source, VehicleModel

register = template.Library()

EVENT_LABELS = {
    "leads.lead.created": gettext_lazy("Lead entered"),
    "leads.lead.assigned": gettext_lazy("Assigned"),
    "leads.lead.transferred": gettext_lazy("Transferred"),
    "leads.lead.handed_over": gettext_lazy("Handed over at the first store visit"),
    "leads.lead.supervisor_note": gettext_lazy("Supervisor's note"),
    "leads.lead.escalation_cleared": gettext_lazy("Escalation cleared"),
    "leads.lead.defeated": gettext_lazy("Defeated"),
    "leads.lead.defeat_requested": gettext_lazy("Defeat requested"),
    "leads.lead.defeat_approved": gettext_lazy("Defeat approved"),
    "leads.lead.defeat_rejected": gettext_lazy("Defeat rejected"),
    "leads.lead.activated": gettext_lazy("Re-activated"),
    "leads.lead.invalidated": gettext_lazy("Marked invalid"),
    "leads.lead.duplicate_entry": gettext_lazy("Entered again: duplicate refused"),
    "leads.deal.order": gettext_lazy("Order placed (B-card)"),
    "leads.deal.delivered": gettext_lazy("Delivered (C-card)"),
    "leads.customer.merged": gettext_lazy("Customer records merged"),
    "followups.followup.logged": gettext_lazy("Contact logged"),
    "followups.appointment.booked": gettext_lazy("Store visit booked"),
    "followups.appointment.confirmed": gettext_lazy("Visit confirmed"),
    "followups.appointment.rescheduled": gettext_lazy("Visit rescheduled"),
    "followups.appointment.cancelled": gettext_lazy("Visit cancelled"),
    "followups.appointment.arrived": gettext_lazy("Visited the store"),
    "followups.appointment.no_show": gettext_lazy("Did not come"),
    "followups.breach.acknowledged": gettext_lazy("Deadline breach acknowledged"),
}
EVENT_ICONS = {
    "leads.lead.created": "plus-circle",
    "leads.lead.assigned": "person-check",
    "leads.lead.transferred": "arrow-left-right",
    "leads.lead.handed_over": "arrow-right-circle",
    "leads.lead.supervisor_note": "chat-left-text",
    "leads.lead.escalation_cleared": "check2",
    "leads.lead.defeated": "x-circle",
    "leads.lead.defeat_requested": "hourglass-split",
    "leads.lead.defeat_approved": "x-circle",
    "leads.lead.defeat_rejected": "arrow-counterclockwise",
    "leads.lead.activated": "lightning-charge",
    "leads.lead.invalidated": "slash-circle",
    "leads.lead.duplicate_entry": "files",
    "leads.deal.order": "cart-check",
    "leads.deal.delivered": "key",
    "followups.followup.logged": "telephone",
    "followups.appointment.booked": "calendar-plus",
    "followups.appointment.confirmed": "calendar-check",
    "followups.appointment.rescheduled": "calendar-event",
    "followups.appointment.cancelled": "calendar-x",
    "followups.appointment.arrived": "door-open",
    "followups.appointment.no_show": "person-x",
    "followups.breach.acknowledged": "alarm",
}
# Internal bookkeeping a reader of the history does not need (counters the
# follow-up service keeps; the calls themselves tell the story).
HIDDEN_FIELDS = {
    "status_before_defeat",
    "defeat_requested_by",
    "updated_at",
    "first_contact_minutes",
    "unanswered_attempts",
}
# Fields an event's own details already state (or that it implies: a
# re-activation clears the defeat), left out of its list of changes.
_CLEARED = {"defeat_reason", "defeat_note", "defeated_at", "invalid_reason", "invalid_note"}
EVENT_SAYS = {
    "leads.lead.assigned": {"owner"},
    "leads.lead.transferred": {"owner"} | _CLEARED,
    "leads.lead.handed_over": {"owner"},
    "leads.lead.escalation_cleared": {"escalated_at"},
    "leads.lead.activated": {"owner"} | _CLEARED,
    "leads.lead.defeated": {"defeat_reason", "defeat_note", "defeated_at"},
    "leads.lead.defeat_requested": {"defeat_reason", "defeat_note"},
    "leads.lead.defeat_approved": {"defeated_at"},
    "leads.lead.defeat_rejected": _CLEARED,
    "leads.lead.invalidated": {"invalid_reason", "invalid_note"},
}
# A service writes the history row and its audit event in one transaction,
# moments apart: within this window, by the same person, they are one entry.
SAME_STEP = timedelta(seconds=2)
# Events that save nothing on the lead, so own no history row.
EVENTS_WITHOUT_SAVE = {
    "leads.lead.duplicate_entry",
    "leads.customer.merged",
    "leads.lead.supervisor_note",
}


class _Names:
    """Names for the ids a timeline mentions, fetched once per model."""

    RELATED = {
        "owner": User,
        "created_by": User,
        "handover_consultant": User,
        "previous": User,
        "channel": Channel,
        "intended_model": VehicleModel,
        "vehicle_model": VehicleModel,
        "defeat_reason": DefeatReason,
    }

    def __init__(self, entries: list[dict], lead: Lead):
        wanted: dict[type, set] = {}
        for entry in entries:
            pairs = []
            if entry["kind"] == "event":
                pairs = entry["data"].items()
            else:
                for change in entry["changes"]:
                    pairs += [(change["name"], change["old"]), (change["name"], change["new"])]
            for key, value in pairs:
                model = self.RELATED.get(key)
                if model is not None and isinstance(value, int):
                    wanted.setdefault(model, set()).add(value)
        self.maps = {
            model: {obj.pk: str(obj) for obj in model.objects.filter(pk__in=ids)}
            for model, ids in wanted.items()
        }
        self.store = lead.store

    @cached_property
    def defeat_reasons(self) -> dict:
        """The store's defeat reasons by code: read only for a timeline that
        tells a defeat (most leads' tell none)."""
        return {
            reason.code: reason.label
            for reason in DefeatReason.objects.for_store(self.store).order_by("-store_id")
        }

    def of(self, key: str, value):
        model = self.RELATED.get(key)
        if model is None or value in (None, ""):
            return value
        return self.maps.get(model, {}).get(value, f"#{value}")


def _show(value) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        return local_minute(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _change_value(field, value, names: _Names):
    if value in (None, ""):
        return "—"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if field.name == "phone":
        return phones.display(value)
    return _show(names.of(field.name, value))


def _event_details(name: str, data: dict, names: _Names) -> list[tuple[str, str]]:
    details = []
    if "previous" in data or "owner" in data:
        if name == "leads.lead.created":
            details.append((_("Owner"), _show(names.of("owner", data.get("owner")))))
        else:
            before = _show(names.of("previous", data.get("previous")))
            after = _show(names.of("owner", data.get("owner")))
            details.append((_("Owner"), f"{before} → {after}"))
    if data.get("handover"):
        details.append((_("Handover"), _("low-intent handover from the showroom")))
    if "source" in data:
        details.append((_("Source"), str(dict(Source.choices).get(data["source"], data["source"]))))
    if "customer_name" in data:
        details.append((_("Name entered"), data["customer_name"]))
    if "vehicle_model" in data:
        details.append(
            (_("Vehicle model"), _show(names.of("vehicle_model", data["vehicle_model"])))
        )
    reason = data.get("reason")
    if reason:
        if name in ("leads.lead.defeated", "leads.lead.defeat_requested"):
            reason = names.defeat_reasons.get(reason, reason)
        elif name == "leads.lead.invalidated":
            reason = str(dict(InvalidReason.choices).get(reason, reason))
        details.append((_("Reason"), reason))
    details += _followup_details(data)
    if data.get("note"):
        details.append((_("Note"), data["note"]))
    return details


def _followup_details(data: dict) -> list[tuple[str, str]]:
    """What a logged contact or a visit event says (followups' audit data)."""
    details = []
    if "result" in data:
        result = str(dict(Result.choices).get(data["result"], data["result"]))
        channel = str(dict(ContactChannel.choices).get(data.get("channel"), ""))
        details.append((_("Result"), f"{result} · {channel}" if channel else result))
    for key, label in (
        ("scheduled_at", _("Visit time")),
        ("next_followup_at", _("Next follow-up")),
    ):
        if data.get(key):
            details.append((label, _show(datetime.fromisoformat(data[key]))))
    if data.get("visit_number"):
        details.append((_("Visit"), str(data["visit_number"])))
    if "test_drive" in data:
        details.append((_("Test drive"), _show(bool(data["test_drive"]))))
    return details


def _same_actor(a, b) -> bool:
    return getattr(a, "pk", None) == getattr(b, "pk", None)


def readable_timeline(lead: Lead) -> list[dict]:
    """``selectors.lead_timeline`` made readable: labels for events, names for
    ids, choice labels for codes, and each service step shown once.

    A service saves the lead (a history row: what changed) and then records
    its audit event (what happened, why) in the same transaction. Each event
    claims the latest unclaimed history row by the same person saved just
    before it, and the two are shown as one entry; the remaining history rows
    (an edit, a level change) are shown as changes of their own.
    """
    entries = selectors.lead_timeline(lead=lead)
    fields = {str(f.verbose_name): f for f in Lead._meta.concrete_fields}
    history = [entry for entry in entries if entry["kind"] == "history"]
    events = [entry for entry in entries if entry["kind"] == "event"]
    for entry in history:
        for change in entry["changes"]:
            field = fields.get(str(change["field"]))
            change["name"] = field.name if field else ""
            change["model_field"] = field
    names = _Names(entries, lead)

    claimed: dict[int, dict] = {}  # id(event) -> its history row
    taken: set[int] = set()
    for event in sorted(events, key=lambda entry: entry["at"]):
        if event["name"] in EVENTS_WITHOUT_SAVE:
            continue
        candidates = [
            row
            for row in history
            if id(row) not in taken
            and _same_actor(row["actor"], event["actor"])
            and timedelta(0) <= event["at"] - row["at"] <= SAME_STEP
        ]
        if candidates:
            row = max(candidates, key=lambda entry: entry["at"])
            claimed[id(event)] = row
            taken.add(id(row))

    def changes_of(row, skip=()) -> list[dict]:
        return [
            {
                "name": change["name"],
                "label": change["field"],
                "old": _change_value(change["model_field"], change["old"], names),
                "new": _change_value(change["model_field"], change["new"], names),
            }
            for change in row["changes"]
            if change["model_field"] is not None
            and change["name"] not in HIDDEN_FIELDS
            and change["name"] not in skip
        ]

    shown = []
    for entry in entries:
        item = {"at": entry["at"], "actor": entry["actor"], "details": [], "reason": ""}
        if entry["kind"] == "event":
            data = entry["data"]
            item.update(
                followup=data.get("followup"),
                title=EVENT_LABELS.get(entry["name"], entry["name"]),
                icon=EVENT_ICONS.get(entry["name"], "dot"),
                name=entry["name"],
                details=_event_details(entry["name"], data, names),
                changes=[],
            )
            row = claimed.get(id(entry))
            if row is not None:
                item["changes"] = changes_of(row, skip=EVENT_SAYS.get(entry["name"], ()))
                told = {str(value) for _label, value in item["details"]}
                if row["reason"] and row["reason"] not in told:
                    item["reason"] = row["reason"]
        elif id(entry) in taken:
            continue
        else:
            changes = changes_of(entry)
            if entry["created"]:
                item.update(title=_("Record created"), icon="plus-circle", name="created")
            elif not changes:
                continue
            else:
                item.update(title=_("Changed"), icon="pencil", name="changed")
            item["changes"] = changes
            item["reason"] = entry["reason"]
        shown.append(item)
    return _as_contacted(shown)


def _as_contacted(shown: list[dict]) -> list[dict]:
    """A logged contact is told when it happened and by whom (the follow-up's
    time and agent), not when and by whom it was typed in (a manager
    back-entering a call the agent made yesterday); who typed it, and when,
    follows as "recorded by" when that differs. Newest first again."""
    ids = [
        item["followup"]
        for item in shown
        if item.get("name") == "followups.followup.logged" and isinstance(item.get("followup"), int)
    ]
    if not ids:
        return shown
    made = {f.pk: f for f in FollowUp.objects.filter(pk__in=ids).select_related("agent")}
    for item in shown:
        followup = made.get(item.get("followup"))
        if followup is None:
            continue
        typed_by, typed_at = item["actor"], item["at"]
        item["at"], item["actor"] = followup.occurred_at, followup.agent
        if not _same_actor(typed_by, followup.agent) or abs(
            typed_at - followup.occurred_at
        ) > timedelta(minutes=10):
            item["recorded"] = {"by": typed_by, "at": typed_at}
    return sorted(shown, key=lambda item: item["at"], reverse=True)


@register.inclusion_tag("desk/partials/lead_timeline.html")
def lead_timeline(lead: Lead) -> dict:
    return {"timeline": readable_timeline(lead)}
