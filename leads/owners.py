"""Base customers and their vehicles (issue 18): vehicles from deliveries,
owner files from a DMS or after-sales system, flags and recommendations by
after-sales staff, and the store's opt-out list.

An owner file goes through the lead import's machinery: the same reader
(``leads.import_files.read_table``), header aliases and value aliases
(``leads.aliases``), import profiles found by the file's header
(``leads.importer.find_profile`` / ``save_profile``) and date parsing
(``leads.importer.parse_datetime``). Only the columns differ
(``OWNER_COLUMNS``). Like a lead import without "import the good rows", an
owner file is all or nothing: every row in error is reported (row, field)
and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dcc import audit
from dcc.models import Store
from dcc.policy import require
from dcc.validators import check_text
from leads import phones
from leads.aliases import Resolver, Unknown
from leads.import_files import read_table
from leads.importer import (
    MAX_ROWS,
    SET_ASIDE,
    PlannedColumn,
    RowError,
    _text,
    find_profile,
    inspect_file,
    parse_datetime,
    plan_columns,
    save_profile,
)
from leads.models import (
    Customer,
    CustomerPhone,
    Deal,
    ImportProfile,
    LeadField,
    OptOut,
    OptOutReason,
    OwnedVehicle,
    OwnerFlag,
    OwnerFlagKind,
    VehicleSource,
)


@dataclass(frozen=True)
class OwnerColumn:
    field: str
    required: bool = False


# What an owner file may hold; the model is read from the lead files' model
# column ("车型", "车系", "意向车型"…), whose aliases it shares.
OWNER_COLUMNS = (
    OwnerColumn(LeadField.NAME, required=True),
    OwnerColumn(LeadField.PHONE, required=True),
    OwnerColumn(LeadField.INTENDED_MODEL),
    OwnerColumn(LeadField.VIN),
    OwnerColumn(LeadField.PLATE),
    OwnerColumn(LeadField.PURCHASED_ON),
    OwnerColumn(LeadField.DELIVERED_ON),
    OwnerColumn(LeadField.LAST_SERVICE_ON),
    OwnerColumn(LeadField.MILEAGE_KM),
)
OWNER_MAPPABLE = {str(c.field) for c in OWNER_COLUMNS} | set(SET_ASIDE)
OWNER_FIELD_CHOICES = [(c.value, c.label) for c in LeadField if c.value in OWNER_MAPPABLE]
VIN_LENGTH = 17


def field_label(name: str) -> str:
    if name == LeadField.INTENDED_MODEL:
        return _("Vehicle model")
    return LeadField(name).label


def missing_fields(columns: list[PlannedColumn]) -> list[str]:
    mapped = {c.field for c in columns}
    return [str(c.field) for c in OWNER_COLUMNS if c.required and c.field not in mapped]


def inspect_owner_file(data: bytes, *, store: Store, profile: ImportProfile | None = None):
    """The header, sample values and proposed mapping of an owner file (the
    store's profile for this header, else the aliases)."""
    return inspect_file(data, store=store, profile=profile, mappable=OWNER_MAPPABLE)


def save_owner_profile(*, actor, store, name, header, mapping, day_first) -> ImportProfile:
    return save_profile(
        actor=actor,
        store=store,
        name=name,
        header=header,
        mapping=mapping,
        day_first=day_first,
        mappable=OWNER_MAPPABLE,
        capability="owners.import",
    )


@dataclass
class _OwnerRow:
    row: int
    name: str
    phone: str
    vehicle_model: object
    model_name: str
    vin: str
    plate: str
    purchased_on: date | None
    delivered_on: date | None
    last_service_on: date | None
    mileage_km: int | None


@dataclass
class OwnerImportResult:
    rows: int = 0
    customers_created: int = 0
    vehicles_created: int = 0
    vehicles_updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return bool(self.errors)


def _date(value, *, tz, day_first) -> date | str | None:
    if _text(value) == "":
        return None
    when = parse_datetime(value, tz=tz, day_first=day_first)
    return when.date() if when else "invalid"


def _read_rows(table, columns, *, store, day_first, result) -> list[_OwnerRow]:
    resolver = Resolver()
    tz = timezone.get_current_timezone()
    index = {c.field: c.index for c in columns if c.field not in SET_ASIDE}
    today = timezone.localdate()
    rows = []
    vins = {}

    def cell(values, name):
        position = index.get(name)
        if position is None or position >= len(values):
            return ""
        return values[position]

    for number, values in table:
        result.rows += 1
        errors = []

        def error(name, message, number=number, errors=errors):
            errors.append(RowError(row=number, field=name, message=message))

        name = _text(cell(values, LeadField.NAME))[:50]
        if not name:
            error("name", _("Enter the owner's name."))
        number_text = _text(cell(values, LeadField.PHONE))
        phone = phones.try_normalize(number_text, area_code=store.area_code)
        if phone is None:
            error("phone", _("“%(raw)s” is not a valid phone number.") % {"raw": number_text})
        model_text = _text(cell(values, LeadField.INTENDED_MODEL))[:100]
        vehicle_model = None
        if model_text:
            found = resolver.model(model_text)
            # The model as the DMS wrote it is kept either way; an unknown
            # one is no error (older series leave the list).
            vehicle_model = None if isinstance(found, Unknown) else found
        vin = _text(cell(values, LeadField.VIN)).upper().replace(" ", "")
        if vin and len(vin) != VIN_LENGTH:
            error("vin", _("A VIN has 17 characters: “%(vin)s”.") % {"vin": vin})
        elif vin and vin in vins:
            error(
                "vin",
                _("The VIN %(vin)s is also on row %(row)s.") % {"vin": vin, "row": vins[vin]},
            )
        elif vin:
            vins[vin] = number
        plate = _text(cell(values, LeadField.PLATE)).replace(" ", "")[:20]
        dates = {}
        for name_ in (LeadField.PURCHASED_ON, LeadField.DELIVERED_ON, LeadField.LAST_SERVICE_ON):
            value = _date(cell(values, name_), tz=tz, day_first=day_first)
            if value == "invalid":
                error(str(name_), _("Not a date: “%(value)s”.") % {"value": cell(values, name_)})
                value = None
            elif value is not None and value > today:
                error(str(name_), _("This date is in the future."))
                value = None
            dates[str(name_)] = value
        mileage_text = _text(cell(values, LeadField.MILEAGE_KM)).replace(",", "")
        mileage = None
        if mileage_text:
            try:
                mileage = int(float(mileage_text))
                if mileage < 0:
                    raise ValueError(mileage_text)
            except ValueError:
                error(
                    "mileage_km", _("Not a mileage in km: “%(value)s”.") % {"value": mileage_text}
                )
        try:
            check_text(name=name, model=model_text, vin=vin, plate=plate)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                error(key, "; ".join(messages))
        if errors:
            result.errors.extend(errors)
            continue
        rows.append(
            _OwnerRow(
                row=number,
                name=name,
                phone=phone,
                vehicle_model=vehicle_model,
                model_name=model_text,
                vin=vin,
                plate=plate,
                purchased_on=dates["purchased_on"],
                delivered_on=dates["delivered_on"],
                last_service_on=dates["last_service_on"],
                mileage_km=mileage,
            )
        )
    return rows


def import_owners(
    *, actor, store: Store, data: bytes, mapping: dict | None = None, day_first: bool = False
) -> OwnerImportResult:
    """Read an owner file and, if every row is right, write its customers
    and vehicles in one transaction. A vehicle already known by its VIN (or,
    without one, by the owner and plate or model) is updated (last service,
    mileage), so importing next month's after-sales file again adds nothing
    twice."""
    require(actor, "owners.import")
    if not actor.sees_all_stores and actor.store_id != store.pk:
        raise PermissionDenied("store outside the actor's scope")
    header, table = read_table(data, max_rows=MAX_ROWS)
    if mapping is None:
        profile = find_profile(store, header)
        mapping = profile.mapping if profile else None
        day_first = profile.day_first if profile else day_first
    columns = plan_columns(header, mapping=mapping, mappable=OWNER_MAPPABLE)
    result = OwnerImportResult()
    for missing in missing_fields(columns):
        result.errors.append(
            RowError(
                row=1,
                field=missing,
                message=_("Map a column to “%(field)s”: it is required.")
                % {"field": field_label(missing)},
            )
        )
    if result.errors:
        return result
    rows = _read_rows(table, columns, store=store, day_first=day_first, result=result)
    if result.errors:
        return result
    with transaction.atomic():
        _write(actor=actor, store=store, rows=rows, result=result)
        audit.record(
            "leads.owners.imported",
            actor=actor,
            store=store,
            rows=result.rows,
            vehicles_created=result.vehicles_created,
            vehicles_updated=result.vehicles_updated,
        )
    return result


def _write(*, actor, store, rows: list[_OwnerRow], result: OwnerImportResult) -> None:
    from leads.services import _customer_for

    known_phones = set(
        CustomerPhone.objects.filter(store=store, number__in=[r.phone for r in rows]).values_list(
            "number", flat=True
        )
    )
    by_vin = {
        v.vin: v
        for v in OwnedVehicle.objects.filter(
            store=store, vin__in=[r.vin for r in rows if r.vin]
        ).select_for_update()
    }
    for row in rows:
        customer = _customer_for(actor=actor, store=store, number=row.phone, name=row.name)
        if row.phone not in known_phones:
            result.customers_created += 1
            known_phones.add(row.phone)
        vehicle = by_vin.get(row.vin) if row.vin else _same_vehicle(customer, row)
        if vehicle is not None and vehicle.customer_id != customer.pk:
            vehicle.customer = customer  # the car changed hands (the DMS knows)
        created = vehicle is None
        if created:
            vehicle = OwnedVehicle(store=store, customer=customer, source=VehicleSource.IMPORT)
        for name in ("vin", "plate", "model_name", "purchased_on", "delivered_on"):
            value = getattr(row, name)
            if value:
                setattr(vehicle, name, value)
        if row.vehicle_model is not None:
            vehicle.vehicle_model = row.vehicle_model
        # Later facts only: an older file does not take a service back.
        if row.last_service_on and (
            vehicle.last_service_on is None or row.last_service_on > vehicle.last_service_on
        ):
            vehicle.last_service_on = row.last_service_on
        if row.mileage_km is not None and (vehicle.mileage_km or 0) <= row.mileage_km:
            vehicle.mileage_km = row.mileage_km
        vehicle.save()
        if row.vin:
            by_vin[row.vin] = vehicle
        if created:
            result.vehicles_created += 1
        else:
            result.vehicles_updated += 1


def _same_vehicle(customer: Customer, row: _OwnerRow):
    vehicles = OwnedVehicle.objects.filter(customer=customer, vin="")
    if row.plate:
        return vehicles.filter(plate=row.plate).first()
    if row.model_name:
        return vehicles.filter(plate="", model_name=row.model_name).first()
    return None


# ---------------------------------------------------------------- deliveries


def vehicle_for_delivery(deal: Deal) -> OwnedVehicle:
    """The owned vehicle of a delivered deal (a C-card), once per deal."""
    vehicle, _created = OwnedVehicle.objects.get_or_create(
        deal=deal,
        defaults={
            "store_id": deal.store_id,
            "customer_id": deal.lead.customer_id,
            "vehicle_model_id": deal.vehicle_model_id,
            "model_name": deal.vehicle_model.name,
            "purchased_on": timezone.localdate(deal.ordered_at) if deal.ordered_at else None,
            "delivered_on": timezone.localdate(deal.delivered_at),
            "source": VehicleSource.DELIVERY,
        },
    )
    return vehicle


# ---------------------------------------------------------------- flags


@transaction.atomic
def owner_flag(*, actor, customer: Customer, kind: str, note: str = "", vehicle=None) -> OwnerFlag:
    """After-sales or customer service flag an owner who meets the
    repurchase criteria, or recommend one (seed 001)."""
    require(actor, "owners.flag")
    if not Customer.objects.visible_to(actor).filter(pk=customer.pk).exists():
        raise PermissionDenied("customer outside the actor's scope")
    if kind not in OwnerFlagKind.values:
        raise ValidationError({"kind": _("Flag or recommend.")})
    note = (note or "").strip()
    check_text(note=note)
    if vehicle is not None and vehicle.customer_id != customer.pk:
        raise ValidationError({"vehicle": _("This vehicle is not the customer's.")})
    flag = OwnerFlag.objects.create(
        store_id=customer.store_id,
        customer=customer,
        vehicle=vehicle,
        kind=kind,
        note=note,
        created_by=actor,
    )
    audit.record("leads.owners.flagged", actor=actor, target=customer, kind=kind)
    return flag


# ---------------------------------------------------------------- opt-out


def opt_out(*, store, phone: str, reason: str, actor=None, note: str = "") -> tuple[OptOut, bool]:
    """Put ``phone`` on the store's opt-out list (idempotent): no campaign
    messages it again. Returns (row, created). ``actor`` None: the
    customer's own reply (the provider's callback)."""
    if actor is not None:
        require(actor, "owners.opt_out")
        if not actor.sees_all_stores and actor.store_id != getattr(store, "pk", store):
            raise PermissionDenied("store outside the actor's scope")
    store_id = getattr(store, "pk", store)
    number = phones.try_normalize(phone) or phone
    note = (note or "").strip()
    check_text(note=note)
    with transaction.atomic():
        row, created = OptOut.objects.get_or_create(
            store_id=store_id,
            phone=number,
            defaults={"reason": reason, "note": note, "created_by": actor},
        )
        if created:
            audit.record("leads.opt_out", actor=actor, store=row.store, target=row, reason=reason)
    return row, created


def opt_out_list(*, actor, store, text: str) -> tuple[int, list[str]]:
    """Numbers pasted or uploaded one a line (or comma-separated): each put
    on the list. Returns (added, the lines that are no phone number)."""
    added, bad = 0, []
    for raw in text.replace(",", "\n").replace("，", "\n").splitlines():
        raw = raw.strip()
        if not raw:
            continue
        number = phones.try_normalize(raw, area_code=getattr(store, "area_code", ""))
        if number is None:
            bad.append(raw)
            continue
        _row, created = opt_out(store=store, phone=number, reason=OptOutReason.LIST, actor=actor)
        added += created
    return added, bad


def opted_out_phones(store):
    """The store's opted-out numbers, as a subquery (``values("phone")``)."""
    return OptOut.objects.filter(store=store).values("phone")


def is_opted_out(store, phone: str) -> bool:
    return OptOut.objects.filter(store=store, phone=phone).exists()


# ---------------------------------------------------------------- one by hand


@transaction.atomic
def owner_add(
    *,
    actor,
    store: Store,
    name: str,
    phone: str,
    vehicle_model=None,
    model_name: str = "",
    vin: str = "",
    plate: str = "",
    purchased_on=None,
    delivered_on=None,
    last_service_on=None,
    mileage_km=None,
) -> OwnedVehicle:
    """An owner and a vehicle entered by hand (after-sales, a manager)."""
    from leads.services import _customer_for

    require(actor, "owners.import")
    if not actor.sees_all_stores and actor.store_id != store.pk:
        raise PermissionDenied("store outside the actor's scope")
    name = (name or "").strip()
    vin = (vin or "").strip().upper()
    errors = {}
    if not name:
        errors["name"] = _("Enter the owner's name.")
    number = phones.try_normalize(phone, area_code=store.area_code)
    if number is None:
        errors["phone"] = _("“%(raw)s” is not a valid phone number.") % {"raw": phone}
    if vin and len(vin) != VIN_LENGTH:
        errors["vin"] = _("A VIN has 17 characters: “%(vin)s”.") % {"vin": vin}
    elif vin and OwnedVehicle.objects.filter(store=store, vin=vin).exists():
        errors["vin"] = _("The store already has a vehicle with this VIN.")
    if errors:
        raise ValidationError(errors)
    check_text(name=name, model_name=model_name, plate=plate)
    customer = _customer_for(actor=actor, store=store, number=number, name=name)
    vehicle = OwnedVehicle(
        store=store,
        customer=customer,
        vehicle_model=vehicle_model,
        model_name=model_name or (vehicle_model.name if vehicle_model else ""),
        vin=vin,
        plate=(plate or "").strip(),
        purchased_on=purchased_on,
        delivered_on=delivered_on,
        last_service_on=last_service_on,
        mileage_km=mileage_km,
        source=VehicleSource.MANUAL,
    )
    vehicle.full_clean(exclude=["store", "customer", "vehicle_model", "deal"])
    vehicle.save()
    audit.record("leads.owners.added", actor=actor, target=customer)
    return vehicle
