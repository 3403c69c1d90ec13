from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeskConfig(AppConfig):
    """The working screens on top of the domain apps: home and the call
    queue, the lead page with its action panels, the visits list, the
    navigation and the composed lead-detail API."""

    name = "desk"
    verbose_name = _("Desk")
