"""Inbound lead connectors: portals, OEM systems and ad platforms pushing
leads to ``POST /api/v1/leads/inbound/<code>/`` (API.md "Leads").

A push is signed: ``X-DCC-Signature`` is the hex HMAC-SHA256 of
``X-DCC-Timestamp + "." + body`` with the connector's secret, compared in
constant time, and the timestamp must lie within the connector's replay
window. An unknown, inactive or mis-signed connector answers the same 401,
so the endpoint says nothing about which codes exist.

The body is read like one row of an imported file (``importer.parse_record``):
the connector's import profile maps the field names, else the kind's
built-in names and the header aliases, and channels and models resolve
through the value aliases. The lead is entered by ``services.lead_create``
(no owner: the store's distribution decides), in the name of the staff
member who set the connector up (or last issued its secret); should they
leave, pushes answer 503 until a manager issues a new secret. The sender's
lead id is claimed first in a unique table (``ConnectorLead``): a retried
push, however many arrive at once, finds the lead the first one made and
creates nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dcc import audit
from dcc.models import Store, User
from dcc.policy import require
from leads import importer, services
from leads.models import (
    ConnectorKind,
    ConnectorLead,
    ConnectorPush,
    ImportProfile,
    LeadConnector,
    LeadField,
    PushOutcome,
)

MAX_BODY = 64 * 1024
EXTERNAL_ID_MAX = 100

# Ocean Engine (巨量引擎) clue fields, as its Marketing API documents the clue
# object that its clue push (线索推送) delivers (docs/lead-connectors.md).
# ``clue_id`` is the sender's lead id; ``remark_dict`` holds the form's own
# fields (意向车型…), read by the header aliases.
OCEAN_ENGINE_ID = "clue_id"
OCEAN_ENGINE_FIELDS: dict[str, str] = {
    "name": LeadField.NAME,
    "telephone": LeadField.PHONE,
    "create_time_detail": LeadField.RECEIVED_AT,
    "app_name": LeadField.CHANNEL,
    "remark": LeadField.NOTE,
    "province_name": LeadField.KEEP_IN_NOTE,
    "city_name": LeadField.KEEP_IN_NOTE,
    "country_name": LeadField.KEEP_IN_NOTE,
    "address": LeadField.KEEP_IN_NOTE,
    "location": LeadField.KEEP_IN_NOTE,
    "advertiser_name": LeadField.KEEP_IN_NOTE,
    "ad_name": LeadField.KEEP_IN_NOTE,
    "promotion_name": LeadField.KEEP_IN_NOTE,
    "site_name": LeadField.KEEP_IN_NOTE,
    "module_name": LeadField.KEEP_IN_NOTE,
    "form_remark": LeadField.KEEP_IN_NOTE,
    "intention_estimation": LeadField.KEEP_IN_NOTE,
    "weixin": LeadField.KEEP_IN_NOTE,
    "email": LeadField.KEEP_IN_NOTE,
}
# Every other documented field of the clue object: ids, states and tags no
# agent needs. A field outside both lists is refused (400), so a changed
# payload is noticed, not silently dropped.
OCEAN_ENGINE_IGNORED = (
    "advertiser_id",
    "ad_id",
    "creative_id",
    "promotion_id",
    "site_id",
    "module_id",
    "external_url",
    "clue_type",
    "create_time",
    "date",
    "clue_source",
    "gender",
    "age",
    "qq",
    "convert_status",
    "req_id",
    "clue_state",
    "clue_state_name",
    "clue_owner_name",
    "follow_state_name",
    "system_tags",
    "allocation_status",
    "store",
)
GENERIC_ID = "external_id"


# ---------------------------------------------------------------- signatures


def new_secret() -> str:
    return secrets.token_hex(32)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class Refused(Exception):
    def __init__(self, outcome: str):
        self.outcome = outcome
        super().__init__(outcome)


def check_signature(connector: LeadConnector, *, timestamp: str, signature: str, body: bytes):
    """Refused(STALE) outside the replay window, Refused(BAD_SIGNATURE) for
    a signature that is not the body's; the comparison takes constant time."""
    timestamp = (timestamp or "").strip()
    if not timestamp.isdigit():
        raise Refused(PushOutcome.BAD_SIGNATURE)
    expected = sign(connector.secret, timestamp, body)
    if not hmac.compare_digest(expected, (signature or "").strip().lower()):
        raise Refused(PushOutcome.BAD_SIGNATURE)
    if abs(timezone.now().timestamp() - int(timestamp)) > connector.replay_window:
        raise Refused(PushOutcome.STALE)


# ---------------------------------------------------------------- payloads


def _scalar(value):
    if isinstance(value, (list, tuple)):
        return "、".join(str(item) for item in value if item not in (None, ""))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def read_payload(connector: LeadConnector, payload: dict) -> tuple[str, dict, dict]:
    """``(external_id, record, mapping)``: the sender's lead id, the fields
    as one row (field name → value) and the field map to read them with."""
    if connector.kind == ConnectorKind.OCEAN_ENGINE:
        external_id = payload.get(OCEAN_ENGINE_ID)
        record, mapping = {}, dict(OCEAN_ENGINE_FIELDS)
        mapping.update(dict.fromkeys(OCEAN_ENGINE_IGNORED, LeadField.IGNORE))
        for key, value in payload.items():
            if key == OCEAN_ENGINE_ID:
                continue
            if key == "remark_dict" and isinstance(value, dict):
                # The form's own fields: their names are read by the aliases.
                record.update({str(k): _scalar(v) for k, v in value.items()})
                continue
            record[key] = _scalar(value)
    else:
        external_id = payload.get(GENERIC_ID)
        record = {k: _scalar(v) for k, v in payload.items() if k not in (GENERIC_ID, "store")}
        mapping = {}
        owner = record.get("owner")
        if owner not in (None, ""):
            # API.md names staff by id; the import reads a username.
            found = (
                User.objects.filter(pk=owner, store=connector.store).first()
                if str(owner).isdigit()
                else None
            )
            record["owner"] = found.username if found else f"#{owner}"
    if connector.profile_id:
        mapping.update(connector.profile.mapping)
    external_id = "" if external_id is None else str(external_id).strip()
    return external_id, record, mapping


# ---------------------------------------------------------------- receiving


@dataclass
class Reply:
    status: int
    data: dict = field(default_factory=dict)


def _log(connector, outcome, status, *, external_id="", lead=None, errors=None) -> None:
    ConnectorPush.objects.create(
        connector=connector,
        outcome=outcome,
        status_code=status,
        external_id=external_id[:EXTERNAL_ID_MAX],
        lead=lead,
        errors=errors or [],
    )


def _unauthorised() -> Reply:
    return Reply(401, {"detail": _("Unknown connector or bad signature.")})


def receive(*, code: str, body: bytes, timestamp: str, signature: str) -> Reply:
    """One push, answered as API.md says: 201 created, 200 already received
    (the same id), 401 unknown connector or bad or stale signature, 409 the
    phone's open lead (the attempt recorded), 400 per field."""
    connector = (
        LeadConnector.objects.select_related("store", "created_by", "profile")
        .filter(code=code, is_active=True)
        .first()
    )
    if connector is None:
        return _unauthorised()
    try:
        check_signature(connector, timestamp=timestamp, signature=signature, body=body)
    except Refused as exc:
        _log(connector, exc.outcome, 401)
        return _unauthorised()
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        payload = None
    if not isinstance(payload, dict):
        errors = [{"field": "body", "message": _("The body is not a JSON object.")}]
        _log(connector, PushOutcome.INVALID, 400, errors=errors)
        return Reply(400, {"body": [errors[0]["message"]]})
    external_id, record, mapping = read_payload(connector, payload)
    id_field = OCEAN_ENGINE_ID if connector.kind == ConnectorKind.OCEAN_ENGINE else GENERIC_ID
    if not external_id or len(external_id) > EXTERNAL_ID_MAX:
        message = _("Give the sender's lead id (at most %(max)d characters).") % {
            "max": EXTERNAL_ID_MAX
        }
        _log(connector, PushOutcome.INVALID, 400, errors=[{"field": id_field, "message": message}])
        return Reply(400, {id_field: [message]})
    try:
        return _enter(connector, external_id, record, mapping)
    except PermissionDenied:
        # The staff member the connector enters leads for has left or lost
        # the right: nothing is entered until a manager takes it over (a new
        # secret). The sender is told to retry later, not that it is wrong.
        message = _("The connector is not set up to enter leads now; ask the store.")
        _log(
            connector,
            PushOutcome.INVALID,
            503,
            external_id=external_id,
            errors=[{"field": "connector", "message": message}],
        )
        return Reply(503, {"detail": message})
    except _Invalid as exc:
        _log(connector, PushOutcome.INVALID, 400, external_id=external_id, errors=exc.errors)
        data: dict[str, list[str]] = {}
        for error in exc.errors:
            data.setdefault(error["field"], []).append(error["message"])
        return Reply(400, data)


class _Invalid(Exception):
    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__(errors)


@transaction.atomic
def _enter(connector: LeadConnector, external_id: str, record: dict, mapping: dict) -> Reply:
    """Claim the sender's id, then enter the lead, in one transaction: a
    concurrent retry waits on the claim and then finds this lead; a refused
    lead releases the claim with everything else."""
    try:
        with transaction.atomic():
            claim = ConnectorLead.objects.create(connector=connector, external_id=external_id)
    except IntegrityError:
        known = ConnectorLead.objects.select_related("lead").get(
            connector=connector, external_id=external_id
        )
        _log(connector, PushOutcome.REPEATED, 200, external_id=external_id, lead=known.lead)
        return Reply(200, {"id": known.lead_id, "owner": known.lead.owner_id, "created": False})
    actor = connector.created_by
    row, errors = importer.parse_record(
        actor=actor,
        store=connector.store,
        record=record,
        mapping=mapping,
        day_first=bool(connector.profile_id and connector.profile.day_first),
    )
    if errors:
        raise _Invalid(errors)
    try:
        lead = services.lead_create(
            actor=actor,
            store=connector.store,
            name=row.name,
            phone=row.phone,
            source=row.source,
            channel=row.channel,
            intended_model=row.intended_model,
            level=row.level,
            owner=row.owner,
            received_at=row.received_at,
            note=row.note,
            expected_purchase_date=row.expected_purchase_date,
        )
    except services.DuplicateLead as exc:
        # First entry wins: the attempt is recorded (lead_create did), the
        # claim released so that the sender's retry is judged again.
        claim.delete()
        existing = exc.existing
        _log(connector, PushOutcome.DUPLICATE, 409, external_id=external_id, lead=existing)
        return Reply(
            409,
            {"detail": str(exc), "existing_lead": existing.pk, "owner": existing.owner_id},
        )
    except ValidationError as exc:
        raise _Invalid(
            [
                {"field": name, "message": message}
                for name, messages in exc.message_dict.items()
                for message in messages
            ]
        ) from exc
    claim.lead = lead
    claim.save(update_fields=["lead"])
    _log(connector, PushOutcome.CREATED, 201, external_id=external_id, lead=lead)
    return Reply(201, {"id": lead.pk, "owner": lead.owner_id, "created": True})


# ---------------------------------------------------------------- setting up


@transaction.atomic
def connector_create(
    *,
    actor,
    store: Store,
    name: str,
    code: str,
    kind: str = ConnectorKind.GENERIC,
    profile: ImportProfile | None = None,
    replay_window: int = 300,
) -> LeadConnector:
    """A manager (of the store) or an administrator sets up a sender; the
    secret is generated here and shown to them once."""
    require(actor, "leads.connectors.manage")
    if not Store.objects.visible_to(actor).filter(pk=store.pk).exists():
        raise PermissionDenied("store outside the actor's scope")
    if profile is not None and profile.store_id != store.pk:
        raise ValidationError({"profile": _("The profile belongs to another store.")})
    connector = LeadConnector(
        store=store,
        name=(name or "").strip(),
        code=(code or "").strip(),
        kind=kind,
        profile=profile,
        replay_window=replay_window,
        secret=new_secret(),
        created_by=actor,
        secret_rotated_at=timezone.now(),
    )
    connector.full_clean()
    connector.save()
    audit.record("leads.connector.created", actor=actor, target=connector, store=store, kind=kind)
    return connector


@transaction.atomic
def connector_regenerate_secret(*, actor, connector: LeadConnector) -> LeadConnector:
    """A new secret (the old one stops working at once), shown once. Whoever
    issues it takes the connector over: pushed leads are entered in their
    name from now on (the way to carry on after its creator left)."""
    require(actor, "leads.connectors.manage")
    connector = LeadConnector.objects.visible_to(actor).select_for_update().get(pk=connector.pk)
    connector.secret = new_secret()
    connector.secret_rotated_at = timezone.now()
    connector.created_by = actor
    connector.save(update_fields=["secret", "secret_rotated_at", "created_by"])
    audit.record("leads.connector.secret_regenerated", actor=actor, target=connector)
    return connector
