from django.contrib import admin

from followups.campaigns.models import Campaign, CampaignMember, CampaignRound, Segment


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "store", "created_by", "created_at"]
    list_filter = ["store"]
    raw_id_fields = ["created_by"]


class CampaignRoundInline(admin.TabularInline):
    model = CampaignRound
    extra = 0
    readonly_fields = ["number", "status", "planned_at", "dispatched_at", "planned_count"]
    raw_id_fields = ["created_by"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "store", "kind", "status", "starts_on", "ends_on", "launched_at"]
    list_filter = ["store", "kind", "status"]
    raw_id_fields = ["segment", "created_by", "team"]
    filter_horizontal = ["promoted_models"]
    inlines = [CampaignRoundInline]


@admin.register(CampaignMember)
class CampaignMemberAdmin(admin.ModelAdmin):
    list_display = ["campaign", "customer", "phone", "replied_at", "call_outcome", "caller"]
    list_filter = ["call_outcome"]
    raw_id_fields = ["campaign", "customer", "vehicle", "sms", "caller", "lead"]


@admin.register(CampaignRound)
class CampaignRoundAdmin(admin.ModelAdmin):
    list_display = ["campaign", "number", "status", "planned_count", "dispatched_at"]
    list_filter = ["status"]
    raw_id_fields = ["campaign", "created_by"]
