"""Leads (DESIGN §2). This module starts with the managed vehicle-model list,
which the organisation API serves (API.md "Organisation")."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from dcc.policy import ScopedQuerySet


class VehicleModelQuerySet(ScopedQuerySet):
    """The brand's model line is shared by every store of the group: anyone
    signed in sees it (``visible_to`` only requires an active user)."""

    def visible_to(self, user):
        return (
            self.all()
            if getattr(user, "is_authenticated", False) and user.is_active
            else self.none()
        )


class VehicleModel(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    # Targets and the commission prerequisite are set per category (DESIGN §3).
    category = models.CharField(_("category"), max_length=50)
    is_active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()
    objects = VehicleModelQuerySet.as_manager()

    class Meta:
        ordering = ["category", "name"]
        verbose_name = _("vehicle model")
        verbose_name_plural = _("vehicle models")

    def __str__(self):
        return self.name
