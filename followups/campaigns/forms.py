from django import forms
from django.utils.translation import gettext_lazy as _

from dcc.models import Team
from followups.campaigns.models import Campaign, Segment
from followups.campaigns.services import PARAM_SOURCES
from leads.models import VehicleModel


class SegmentForm(forms.Form):
    """The filters of a segment (``followups.campaigns.segments``)."""

    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    vehicle_age_min = forms.IntegerField(
        label=_("Vehicle at least (years)"), min_value=0, max_value=50, required=False
    )
    vehicle_age_max = forms.IntegerField(
        label=_("Vehicle at most (years)"), min_value=0, max_value=50, required=False
    )
    models = forms.ModelMultipleChoiceField(
        label=_("Vehicle models"), queryset=VehicleModel.objects.none(), required=False
    )
    series = forms.MultipleChoiceField(label=_("Series"), choices=(), required=False)
    last_service_before = forms.DateField(
        label=_("Last service before"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    last_service_after = forms.DateField(
        label=_("Last service since"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    last_contact_before = forms.DateField(
        label=_("No contact since"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    flagged = forms.BooleanField(label=_("Flagged or recommended by after-sales"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        active = VehicleModel.objects.filter(is_active=True)
        self.fields["models"].queryset = active
        categories = sorted(set(active.values_list("category", flat=True)))
        self.fields["series"].choices = [(c, c) for c in categories]

    def filters(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("name", None)
        data["models"] = [m.pk for m in data.get("models") or []]
        return data


class CampaignForm(forms.ModelForm):
    sms_params_text = forms.CharField(
        label=_("Template parameters, in order"),
        required=False,
        help_text=_("Comma-separated, each one of: %(names)s")
        % {"names": ", ".join(PARAM_SOURCES)},
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "kind",
            "team",
            "promoted_models",
            "starts_on",
            "ends_on",
            "segment",
            "sms_template_id",
            "call_script",
            "call_delay_hours",
            "call_target",
            "attempt_cap",
        ]
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
            "call_script": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, store, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.filter(store=store)
        self.fields["team"].queryset = Team.objects.filter(store=store)
        self.fields["promoted_models"].queryset = VehicleModel.objects.filter(is_active=True)
        self.fields["promoted_models"].required = False
        if self.instance.pk:
            self.fields["sms_params_text"].initial = ",".join(self.instance.sms_params or [])

    def clean_sms_params_text(self):
        text = self.cleaned_data.get("sms_params_text") or ""
        params = [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]
        unknown = [p for p in params if p not in PARAM_SOURCES]
        if unknown:
            raise forms.ValidationError(
                _("Unknown parameter: %(names)s.") % {"names": ", ".join(unknown)}
            )
        return params
