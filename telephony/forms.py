"""Telephony forms: input only; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from dcc.forms import StoreChoiceMixin
from telephony.models import CDR_FORMATS, CallSource, Format


class CdrUploadForm(StoreChoiceMixin, forms.Form):
    file = forms.FileField(
        label=_("Call-log file"),
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": ".csv,.txt"}),
    )
    source = forms.ModelChoiceField(
        label=_("Source"),
        queryset=CallSource.objects.none(),
        required=False,
        empty_label=_("Reference layout (Asterisk Master.csv, server time zone)"),
        help_text=_("A configured PBX: its column map, time zone and dialling prefixes."),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    format = forms.ChoiceField(
        label=_("Format"),
        choices=[(value, label) for value, label in Format.choices if value in CDR_FORMATS],
        initial=Format.ASTERISK_CSV,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    store = StoreChoiceMixin.store_field()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit_store(user)
        self.fields["source"].queryset = CallSource.objects.visible_to(user).filter(
            is_active=True, format__in=CDR_FORMATS
        )
        self.user = user

    def clean(self):
        data = super().clean()
        source = data.get("source")
        store = data.get("store") or self.user.store
        if source is not None:
            store = source.store
        if store is None:
            self.add_error("store", _("Choose the store the calls belong to."))
        data["store"] = store
        return data
