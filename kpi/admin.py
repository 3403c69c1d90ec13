from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from kpi.models import KpiSettings, Meeting, ScorecardItem, ScorecardSettings, Target
from kpi.services import SETTINGS_FIELDS


@admin.register(KpiSettings)
class KpiSettingsAdmin(SimpleHistoryAdmin):
    list_display = ["store", *SETTINGS_FIELDS]


@admin.register(Target)
class TargetAdmin(SimpleHistoryAdmin):
    list_display = ["month", "member", "category", "units", "store", "set_by"]
    list_filter = ["store", "month", "category"]
    raw_id_fields = ["member", "set_by"]


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin):
    list_display = ["held_at", "team", "kind", "recorded_by"]
    list_filter = ["store", "team", "kind"]
    raw_id_fields = ["recorded_by"]
    filter_horizontal = ["attendees"]
    date_hierarchy = "held_at"


class _ReadOnly(SimpleHistoryAdmin):
    """Shown with their history; changed only on the scorecard settings page,
    whose service checks the card (weights adding up to 100, known figures)
    and records who changed what."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ScorecardSettings)
class ScorecardSettingsAdmin(_ReadOnly):
    list_display = ["store", "slope_above", "slope_below", "cap_max"]


@admin.register(ScorecardItem)
class ScorecardItemAdmin(_ReadOnly):
    list_display = ["store", "role", "order", "metric", "label", "weight", "target", "active"]
    list_filter = ["store", "role", "active"]
