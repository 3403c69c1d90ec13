"""Call-log sources page (issue 15): a store's managers and administrators
set up their PBX's call log (format, zone, prefixes, area code, column map,
folder, date order) and try a file before saving."""

from django import forms
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from dcc.models import Store
from dcc.policy import capability_required, get_visible_or_404
from telephony import call_sources
from telephony.models import CallSource

FIELDS = list(call_sources.EDITABLE)


class CallSourceForm(forms.ModelForm):
    sample = forms.FileField(
        label=_("A file to try"),
        required=False,
        help_text=_("Shows the first 20 calls as they would be imported; nothing is saved."),
    )

    class Meta:
        model = CallSource
        fields = FIELDS

    def clean_channel_extensions(self):
        value = self.cleaned_data.get("channel_extensions") or {}
        if not isinstance(value, dict):
            raise forms.ValidationError(
                _('A map of card channels to extensions, e.g. {"1": "8001", "2": "8002"}.')
            )
        return value

    def __init__(self, *args, store, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.store = store
        for field in self.fields.values():
            css = (
                "form-check-input"
                if isinstance(field.widget, forms.CheckboxInput)
                else "form-control"
            )
            if isinstance(field.widget, forms.Select):
                css = "form-select"
            field.widget.attrs.setdefault("class", css)


@capability_required("telephony.sources.manage")
def sources(request, pk=None):
    user = request.user
    source = get_visible_or_404(CallSource.objects.all(), user, pk=pk) if pk else None
    store = source.store if source else (user.store or Store.objects.visible_to(user).first())
    preview = None
    form = CallSourceForm(request.POST or None, request.FILES or None, instance=source, store=store)
    if request.method == "POST" and form.is_valid():
        if "try" in request.POST:
            sample = form.cleaned_data.get("sample")
            if sample is None:
                form.add_error("sample", _("Choose a file to try."))
            else:
                try:
                    preview = call_sources.try_file(
                        store=store,
                        config=form.instance.config(),
                        data=sample.read(),
                        detect=False,
                    )
                except ValidationError as error:
                    form.add_error("sample", error.message_dict.get("file", error.messages))
        else:
            values = {name: form.cleaned_data[name] for name in FIELDS if name in form.cleaned_data}
            try:
                call_sources.save_source(actor=user, source=source, store=store, values=values)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                return redirect("telephony:sources")
    listing = CallSource.objects.visible_to(user).select_related("store")
    return render(
        request,
        "telephony/sources.html",
        {"form": form, "sources": listing, "source": source, "preview": preview},
    )


urlpatterns = [
    path("sources/", sources, name="sources"),
    path("sources/<int:pk>/", sources, name="source-edit"),
]
