from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from telephony import services
from telephony.models import (
    Call,
    CallImport,
    CallSource,
    ExtensionAssignment,
    Playback,
    Recording,
    Review,
    ReviewItem,
)


@admin.register(CallSource)
class CallSourceAdmin(SimpleHistoryAdmin):
    list_display = ["name", "store", "format", "time_zone", "area_code", "folder", "is_active"]
    list_filter = ["store", "format", "is_active"]


@admin.register(ExtensionAssignment)
class ExtensionAssignmentAdmin(SimpleHistoryAdmin):
    """Correct who had an extension when (the staff form keeps the current
    holder; ranges in the past are set here)."""

    list_display = ["extension", "staff", "store", "valid_from", "valid_to"]
    list_filter = ["store"]
    search_fields = ["extension", "staff__username", "staff__name"]
    raw_id_fields = ["staff"]

    def save_model(self, request, obj, form, change):
        before = ExtensionAssignment.objects.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        changed = {(obj.store_id, obj.extension)}
        if before is not None:
            changed.add((before.store_id, before.extension))
        for store_id, extension in changed:
            services.extension_holders_changed(store_id=store_id, extension=extension)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.extension_holders_changed(store_id=obj.store_id, extension=obj.extension)

    def delete_queryset(self, request, queryset):
        changed = set(queryset.values_list("store_id", "extension"))
        super().delete_queryset(request, queryset)
        for store_id, extension in changed:
            services.extension_holders_changed(store_id=store_id, extension=extension)


@admin.register(CallImport)
class CallImportAdmin(admin.ModelAdmin):
    list_display = ["started_at", "store", "kind", "file_name", "status", "imported", "duplicates"]
    list_filter = ["store", "kind", "status", "via"]
    readonly_fields = [field.name for field in CallImport._meta.fields]


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["started_at", "direction", "disposition", "extension", "agent", "lead"]
    list_filter = ["store", "direction", "disposition"]
    search_fields = ["key", "uniqueid", "external_number"]
    raw_id_fields = ["agent", "lead", "call_import", "source"]
    date_hierarchy = "started_at"


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = ["started_at", "original_name", "agent", "lead", "call"]
    list_filter = ["store", "direction"]
    raw_id_fields = ["call", "agent", "lead", "call_import"]


@admin.register(Playback)
class PlaybackAdmin(admin.ModelAdmin):
    list_display = ["at", "recording", "user", "action", "via"]
    raw_id_fields = ["recording", "user"]


@admin.register(ReviewItem)
class ReviewItemAdmin(SimpleHistoryAdmin):
    list_display = ["label", "store", "points", "order", "is_active"]
    list_filter = ["store", "is_active"]


@admin.register(Review)
class ReviewAdmin(SimpleHistoryAdmin):
    list_display = ["created_at", "recording", "agent", "reviewer", "percent"]
    raw_id_fields = ["recording", "agent", "reviewer"]
