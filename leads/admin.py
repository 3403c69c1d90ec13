from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from leads.models import VehicleModel


@admin.register(VehicleModel)
class VehicleModelAdmin(SimpleHistoryAdmin):
    list_display = ["name", "category", "is_active"]
    list_filter = ["category", "is_active"]
