from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from kpi.models import KpiSettings, Meeting, Target
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
