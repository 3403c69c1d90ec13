"""The Excel import page: upload the filled-in template, read what happened.
Every rule is in ``leads.importer``; this page only collects the upload."""

from django import forms
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from dcc.forms import StoreChoiceMixin
from dcc.policy import capability_required
from leads import importer
from leads.api_import import template_response

# The page lists this many errors and duplicates; the counts say how many more.
SHOWN_ROWS = 500


class LeadImportForm(StoreChoiceMixin, forms.Form):
    file = forms.FileField(label=_("Excel file (.xlsx)"))
    partial = forms.BooleanField(
        label=_("Partial import: create the good rows even if other rows have errors"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    store = StoreChoiceMixin.store_field()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only a group administrator picks the store; everyone else imports
        # into the store they work in.
        self.limit_store(user)


@capability_required("leads.import")
def lead_import(request):
    user = request.user
    result = None
    if request.method == "POST":
        form = LeadImportForm(request.POST, request.FILES, user=user)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = importer.lead_import(
                    actor=user,
                    file=upload,
                    store=form.cleaned_data.get("store"),
                    partial=form.cleaned_data["partial"],
                    filename=upload.name,
                )
            except importer.ImportFileError as exc:
                form.add_error("file", str(exc))
            except ValidationError as exc:
                form.add_error("store" if "store" in form.fields else None, exc.messages)
    else:
        form = LeadImportForm(user=user)
    context = {
        "form": form,
        "result": result,
        "shown_rows": SHOWN_ROWS,
        "errors": result.errors[:SHOWN_ROWS] if result else [],
        "duplicates": result.duplicates[:SHOWN_ROWS] if result else [],
    }
    # htmx posts the form and swaps the panel; a plain post renders the page.
    template = "leads/partials/import_panel.html" if request.htmx else "leads/import.html"
    return render(request, template, context)


@capability_required("leads.import")
def lead_import_template(request):
    return template_response()
