from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from leads.models import (
    Channel,
    Customer,
    CustomerPhone,
    Deal,
    DefeatReason,
    HeaderAlias,
    ImportProfile,
    Lead,
    LeadImport,
    OptOut,
    OwnedVehicle,
    OwnerFlag,
    ValueAlias,
    VehicleModel,
)


@admin.register(VehicleModel)
class VehicleModelAdmin(SimpleHistoryAdmin):
    list_display = ["name", "category", "is_active"]
    list_filter = ["category", "is_active"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "sort_order", "is_active"]
    list_editable = ["label", "sort_order", "is_active"]


@admin.register(DefeatReason)
class DefeatReasonAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "store", "sort_order", "is_active"]
    list_filter = ["store", "is_active"]


class CustomerPhoneInline(admin.TabularInline):
    model = CustomerPhone
    extra = 0
    readonly_fields = ["number", "store"]


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    list_display = ["name", "store", "has_full_name", "merged_into", "created_at"]
    list_filter = ["store", "has_full_name"]
    search_fields = ["name", "phones__number"]
    inlines = [CustomerPhoneInline]


@admin.register(Lead)
class LeadAdmin(SimpleHistoryAdmin):
    # Read-mostly: every change of substance goes through leads.services so
    # that its rule, history reason and audit event are applied.
    list_display = [
        "id",
        "customer",
        "phone",
        "store",
        "source",
        "level",
        "status",
        "owner",
        "received_at",
    ]
    list_filter = ["store", "source", "status", "level", "channel"]
    search_fields = ["customer__name", "phone"]
    list_select_related = ["customer", "store", "owner"]
    raw_id_fields = [
        "customer",
        "owner",
        "created_by",
        "handover_consultant",
        "defeat_requested_by",
    ]
    readonly_fields = ["status", "owner", "phone", "store", "customer", "created_by"]


@admin.register(Deal)
class DealAdmin(SimpleHistoryAdmin):
    list_display = ["id", "lead", "vehicle_model", "agent", "ordered_at", "delivered_at"]
    list_filter = ["store", "vehicle_model"]
    raw_id_fields = ["lead", "agent", "created_by"]


@admin.register(HeaderAlias)
class HeaderAliasAdmin(admin.ModelAdmin):
    """Column headers added to the built-in list (leads.aliases.HEADER_ALIASES)."""

    list_display = ["header", "field"]
    list_filter = ["field"]
    search_fields = ["header"]


@admin.register(ValueAlias)
class ValueAliasAdmin(admin.ModelAdmin):
    """Other names of channels and models: 易车 → 易车网, 别克GL8 → GL8."""

    list_display = ["alias", "kind", "channel", "vehicle_model"]
    list_filter = ["kind"]
    search_fields = ["alias"]
    autocomplete_fields = []


@admin.register(ImportProfile)
class ImportProfileAdmin(admin.ModelAdmin):
    list_display = ["name", "store", "day_first", "created_by", "updated_at"]
    list_filter = ["store"]
    readonly_fields = ["signature", "headers"]


@admin.register(LeadImport)
class LeadImportAdmin(admin.ModelAdmin):
    # Read-only: imports and their undo go through leads.importer.
    list_display = ["filename", "store", "actor", "status", "rows", "created", "created_at"]
    list_filter = ["store", "status"]
    readonly_fields = [f.name for f in LeadImport._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(OwnedVehicle)
class OwnedVehicleAdmin(admin.ModelAdmin):
    list_display = ["customer", "vehicle_model", "model_name", "vin", "plate", "delivered_on"]
    list_filter = ["store", "source"]
    search_fields = ["vin", "plate", "customer__name"]
    raw_id_fields = ["customer", "deal"]


@admin.register(OwnerFlag)
class OwnerFlagAdmin(admin.ModelAdmin):
    list_display = ["customer", "kind", "store", "created_by", "created_at"]
    list_filter = ["store", "kind"]
    raw_id_fields = ["customer", "vehicle", "created_by"]


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ["phone", "store", "reason", "created_at"]
    list_filter = ["store", "reason"]
    search_fields = ["phone"]
    raw_id_fields = ["created_by"]
