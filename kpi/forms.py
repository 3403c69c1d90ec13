"""Forms of the KPI pages: input shapes only; the rules are in kpi.services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from dcc.models import User
from kpi.models import KpiSettings, MeetingKind
from kpi.services import SETTINGS_FIELDS
from leads.forms import DATETIME_LOCAL, DateTimeLocalInput


class MeetingForm(forms.Form):
    kind = forms.ChoiceField(label=_("Meeting"), choices=MeetingKind.choices)
    held_at = forms.DateTimeField(
        label=_("Held at"), widget=DateTimeLocalInput(), input_formats=[DATETIME_LOCAL]
    )
    attendees = forms.ModelMultipleChoiceField(
        label=_("Attendees"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    minutes = forms.CharField(
        label=_("Minutes"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args, team=None, **kwargs):
        super().__init__(*args, **kwargs)
        if team is not None:
            self.fields["attendees"].queryset = User.objects.filter(
                team=team, is_active=True
            ).order_by("name", "username")


class KpiSettingsForm(forms.ModelForm):
    class Meta:
        model = KpiSettings
        # The fields kpi.services.settings_update accepts: one list.
        fields = list(SETTINGS_FIELDS)
        widgets = {
            "morning_meeting_latest": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "evening_meeting_latest": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
