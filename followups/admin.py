from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from followups.models import (
    Appointment,
    FollowUp,
    FollowupPolicy,
    SlaBreach,
    SmsMessage,
    SmsReply,
)
from followups.services import POLICY_FIELDS


@admin.register(FollowupPolicy)
class FollowupPolicyAdmin(SimpleHistoryAdmin):
    list_display = ["store", *POLICY_FIELDS]


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "lead", "agent", "channel", "result", "next_followup_at"]
    list_filter = ["store", "channel", "result"]
    raw_id_fields = ["lead", "agent", "created_by"]
    date_hierarchy = "occurred_at"


@admin.register(Appointment)
class AppointmentAdmin(SimpleHistoryAdmin):
    list_display = ["scheduled_at", "lead", "agent", "receiver", "status", "visit_number"]
    list_filter = ["store", "status", "is_walk_in"]
    raw_id_fields = ["lead", "agent", "receiver", "created_by"]
    date_hierarchy = "scheduled_at"


@admin.register(SlaBreach)
class SlaBreachAdmin(admin.ModelAdmin):
    list_display = ["due_at", "lead", "kind", "owner", "acknowledged_at"]
    list_filter = ["store", "kind"]
    raw_id_fields = ["lead", "owner", "acknowledged_by"]


@admin.register(SmsMessage)
class SmsMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "phone", "status", "attempts", "sent_at"]
    list_filter = ["store", "status", "kind"]
    raw_id_fields = ["lead", "appointment"]
    readonly_fields = ["idempotency_key", "provider_id", "claimed_at"]


@admin.register(SmsReply)
class SmsReplyAdmin(admin.ModelAdmin):
    list_display = ["received_at", "phone", "text", "store", "sms"]
    list_filter = ["store"]
    raw_id_fields = ["sms"]
    readonly_fields = ["payload", "dedup_key"]
