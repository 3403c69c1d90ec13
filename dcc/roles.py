"""Staff roles (DESIGN §1). Kept apart from models so that the policy can use
them without importing models."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """The code is the API value; the label is what people read."""

    AGENT = "agent", _("Telesales agent")
    CALLER = "caller", _("Outbound caller")
    SUPERVISOR = "supervisor", _("Supervisor")
    MANAGER = "manager", _("Sales manager")
    CONSULTANT = "consultant", _("Showroom consultant")
    ADMIN = "admin", _("Administrator")
    # Issue 18: after-sales and customer-service staff flag or recommend the
    # store's owners for repurchase; they own no leads.
    AFTERSALES = "aftersales", _("After-sales / customer service")
