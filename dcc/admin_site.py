from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class DccAdminSite(admin.AdminSite):
    site_header = _("DCC administration")
    site_title = _("DCC")

    def has_permission(self, request):
        # The Django admin is not scoped by our policy, so only group
        # administrators (who see every store anyway) may open it.
        user = request.user
        return user.is_active and user.is_staff and user.sees_all_stores
