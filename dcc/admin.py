from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from dcc import events
from dcc.models import AuditEvent, Heartbeat, Store, Team, User


@admin.register(Store)
class StoreAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "area_code", "is_active"]
    search_fields = ["code", "name"]


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin):
    list_display = ["name", "store"]
    list_filter = ["store"]
    search_fields = ["name"]


@admin.register(User)
class StaffAdmin(UserAdmin, SimpleHistoryAdmin):
    list_display = ["username", "name", "role", "store", "team", "extension", "is_active"]
    list_filter = ["role", "store", "team", "is_active"]
    search_fields = ["username", "name", "extension"]
    fieldsets = [
        *UserAdmin.fieldsets,
        (_("DCC"), {"fields": ["name", "role", "store", "team", "extension"]}),
    ]
    add_fieldsets = [
        *UserAdmin.add_fieldsets,
        (_("DCC"), {"fields": ["name", "role", "store", "team", "extension"]}),
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        events.staff_saved.send(sender=User, staff=obj, actor=request.user)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "name", "actor", "store", "target_type", "target_id"]
    list_filter = ["name", "store"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "seen_at"]
