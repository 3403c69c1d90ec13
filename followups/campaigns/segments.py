"""Segments: the store's owners picked by their vehicles and contacts
(issue 18). ``customers(store, filters)`` is the one query behind the live
count, a saved segment and a campaign's launch; opted-out numbers are always
left out.

Filters (all optional, JSON-safe):

* ``vehicle_age_min`` / ``vehicle_age_max``: whole years since delivery (or
  purchase) of a vehicle;
* ``models``: vehicle model ids; ``series``: model categories;
* ``last_service_before`` / ``last_service_after``: ISO dates;
* ``last_contact_before``: ISO date; nobody logged a contact since;
* ``flagged``: only owners flagged or recommended by after-sales;
* ``stores``: store ids (a group administrator's segment across stores).

The vehicle filters hold for one and the same vehicle.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from followups.models import FollowUp
from leads.models import Customer, OwnedVehicle, OwnerFlag, VehicleModel
from leads.owners import opted_out_phones

INT_KEYS = ("vehicle_age_min", "vehicle_age_max")
DATE_KEYS = ("last_service_before", "last_service_after", "last_contact_before")
LIST_KEYS = ("models", "stores")
FILTER_KEYS = (*INT_KEYS, *DATE_KEYS, *LIST_KEYS, "series", "flagged")


def clean(raw: dict) -> dict:
    """The filters as stored: known keys, right types, nothing empty;
    ValidationError naming the field otherwise."""
    filters, errors = {}, {}
    for key in INT_KEYS:
        value = raw.get(key)
        if value in (None, ""):
            continue
        try:
            number = int(value)
            if not 0 <= number <= 50:
                raise ValueError(value)
        except (TypeError, ValueError):
            errors[key] = _("Enter a whole number of years between 0 and 50.")
            continue
        filters[key] = number
    for key in DATE_KEYS:
        value = raw.get(key)
        if value in (None, ""):
            continue
        when = value if isinstance(value, date) else parse_date(str(value))
        if when is None:
            errors[key] = _("Enter a date (YYYY-MM-DD).")
            continue
        filters[key] = when.isoformat()
    for key in LIST_KEYS:
        values = raw.get(key) or []
        if isinstance(values, str | int):
            values = [values]
        try:
            ids = sorted({int(v) for v in values if str(v).strip()})
        except (TypeError, ValueError):
            errors[key] = _("Choose from the list.")
            continue
        if ids:
            filters[key] = ids
    series = raw.get("series") or []
    if isinstance(series, str):
        series = [series]
    series = sorted({str(s).strip() for s in series if str(s).strip()})
    if series:
        filters["series"] = series
    if raw.get("flagged") in (True, "on", "true", "1", 1):
        filters["flagged"] = True
    if (
        "vehicle_age_min" in filters
        and "vehicle_age_max" in filters
        and filters["vehicle_age_min"] > filters["vehicle_age_max"]
    ):
        errors["vehicle_age_max"] = _("The maximum age is below the minimum.")
    if errors:
        raise ValidationError(errors)
    return filters


def _years_ago(years: int, today: date) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def vehicle_q(filters: dict, *, today: date | None = None) -> Q:
    """The vehicle conditions of ``filters`` on ``OwnedVehicle``."""
    today = today or timezone.localdate()
    q = Q()
    if "vehicle_age_min" in filters:
        # At least N years old: since on or before today minus N years.
        limit = _years_ago(filters["vehicle_age_min"], today)
        q &= Q(delivered_on__lte=limit) | Q(delivered_on__isnull=True, purchased_on__lte=limit)
    if "vehicle_age_max" in filters:
        # At most N years old: since after today minus N+1 years.
        limit = _years_ago(filters["vehicle_age_max"] + 1, today)
        q &= Q(delivered_on__gt=limit) | Q(delivered_on__isnull=True, purchased_on__gt=limit)
    if filters.get("models"):
        q &= Q(vehicle_model_id__in=filters["models"])
    if filters.get("series"):
        q &= Q(vehicle_model__category__in=filters["series"])
    if "last_service_before" in filters:
        q &= Q(last_service_on__lt=filters["last_service_before"])
    if "last_service_after" in filters:
        q &= Q(last_service_on__gte=filters["last_service_after"])
    return q


def store_ids(store, filters: dict) -> list[int]:
    """The stores a segment covers: its own, or the group's chosen ones."""
    chosen = filters.get("stores")
    if chosen:
        return chosen
    return [getattr(store, "pk", store)]


def customers(store, filters: dict, *, today: date | None = None):
    """The customers of ``filters`` (see the module): owners of a matching
    vehicle, never merged away, never opted out (any of their numbers)."""
    stores = store_ids(store, filters)
    vehicles = OwnedVehicle.objects.filter(store_id__in=stores).filter(
        vehicle_q(filters, today=today)
    )
    queryset = Customer.objects.filter(
        store_id__in=stores,
        merged_into__isnull=True,
        pk__in=vehicles.values("customer_id"),
    )
    if filters.get("flagged"):
        queryset = queryset.filter(
            pk__in=OwnerFlag.objects.filter(store_id__in=stores).values("customer_id")
        )
    if "last_contact_before" in filters:
        contacted = FollowUp.objects.filter(
            lead__store_id__in=stores, occurred_at__date__gte=filters["last_contact_before"]
        )
        queryset = queryset.exclude(pk__in=contacted.values("lead__customer_id"))
    opted_out = Customer.objects.filter(
        store_id__in=stores, phones__number__in=_opted_out(stores)
    ).values("pk")
    return queryset.exclude(pk__in=opted_out)


def _opted_out(stores):
    from leads.models import OptOut

    if len(stores) == 1:
        return opted_out_phones(stores[0])
    return OptOut.objects.filter(store_id__in=stores).values("phone")


def describe(filters: dict) -> list[str]:
    """The filters in words, for the segment and campaign pages."""
    parts = []
    if "vehicle_age_min" in filters:
        parts.append(_("vehicle at least %(n)s years old") % {"n": filters["vehicle_age_min"]})
    if "vehicle_age_max" in filters:
        parts.append(_("vehicle at most %(n)s years old") % {"n": filters["vehicle_age_max"]})
    if filters.get("models"):
        names = VehicleModel.objects.filter(pk__in=filters["models"]).values_list("name", flat=True)
        parts.append(_("models: %(names)s") % {"names": ", ".join(names)})
    if filters.get("series"):
        parts.append(_("series: %(names)s") % {"names": ", ".join(filters["series"])})
    if "last_service_before" in filters:
        parts.append(_("last service before %(d)s") % {"d": filters["last_service_before"]})
    if "last_service_after" in filters:
        parts.append(_("last service since %(d)s") % {"d": filters["last_service_after"]})
    if "last_contact_before" in filters:
        parts.append(_("no contact since %(d)s") % {"d": filters["last_contact_before"]})
    if filters.get("flagged"):
        parts.append(_("flagged or recommended by after-sales"))
    return parts
