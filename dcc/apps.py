from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class DccConfig(AppConfig):
    name = "dcc"
    verbose_name = _("Organisation")
    default = True

    def ready(self):
        from dcc import (
            auth,  # noqa: F401 - connects the failed sign-in log
            sqlite,  # noqa: F401 - WAL for every SQLite connection
        )


class DccAdminConfig(admin_apps.AdminConfig):
    """The Django admin, restricted to group administrators (see dcc.admin)."""

    default = False
    default_site = "dcc.admin_site.DccAdminSite"
