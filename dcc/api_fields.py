"""The API's fields and filters for times and dates (every app's serializers
and filter sets use these, not DRF's or django-filter's own).

- Input: a time or date outside ``dcc.timeutils.EARLIEST``–``LATEST`` is a
  400 on its field. A CRM's records lie within those years; outside them
  Python overflows when shifting a time between zones (year 1, year 9999)
  and old dates have the zone's local mean time (Asia/Shanghai before 1901:
  ``+08:05:43``).
- Filters: a time is compared in UTC, so an offset PostgreSQL cannot store
  (beyond ±15:59, which ISO 8601 and Python accept) never reaches it.
- Output: RFC 3339 (what the schema's ``date-time`` means): a time whose
  local offset has seconds (local mean time, from a row entered before these
  bounds) is written in UTC.
- ``ModelSerializer``: the model's time and date columns get these fields.
"""

import re
from datetime import UTC, datetime

import django_filters
from django import forms
from django.db import models
from rest_framework import serializers

from dcc.timeutils import in_range, range_message

# An ISO 8601 offset with seconds, which RFC 3339 has not: +08:05:43.
_OFFSET_WITH_SECONDS = re.compile(r"[+-]\d\d:\d\d:\d\d(\.\d+)?$")


class _InRange:
    """A serializer field whose time or date must lie within the years kept."""

    def to_internal_value(self, value):
        value = super().to_internal_value(value)
        if not in_range(value):
            raise serializers.ValidationError(range_message(), code="range")
        return value


class DateTimeField(_InRange, serializers.DateTimeField):
    def to_representation(self, value):
        text = super().to_representation(value)
        if isinstance(value, datetime) and _OFFSET_WITH_SECONDS.search(text or ""):
            return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return text


class DateField(_InRange, serializers.DateField):
    pass


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
        models.DateField: DateField,
    }


class IsoDateTimeFormField(django_filters.fields.IsoDateTimeField):
    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(range_message(), code="range") from None
        if not in_range(moment):
            raise forms.ValidationError(range_message(), code="range")
        return moment


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = IsoDateTimeFormField
