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
        choices=[("", _("Recognise from the file"))]
        + [(value, label) for value, label in Format.choices if value in CDR_FORMATS],
        required=False,
        initial="",
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


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"class": "form-control"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class RecordingUploadForm(StoreChoiceMixin, forms.Form):
    files = MultipleFileField(
        label=_("Recordings"),
        help_text=_(
            "FreePBX recordings keep their names (in-…, out-…): the name says the call. "
            "WAV, MP3, OGG or M4A."
        ),
    )
    store = StoreChoiceMixin.store_field()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit_store(user)
        self.user = user

    def clean(self):
        data = super().clean()
        data["store"] = data.get("store") or self.user.store
        if data["store"] is None:
            self.add_error("store", _("Choose the store the recordings belong to."))
        return data
