"""Forms of the recording pages: the review list's filters, the checklist
scoring form, a checklist item."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dcc.models import User
from dcc.policy import LEAD_OWNER_ROLES
from dcc.timeutils import local_day_start
from telephony.models import Direction, Review, ReviewItem


class RecordingFilterForm(forms.Form):
    """The review list's filter bar; every field may stay empty."""

    REVIEWED = (("", _("Reviewed or not")), ("no", _("Not reviewed")), ("yes", _("Reviewed")))

    agent = forms.ModelChoiceField(
        label=_("Agent"), queryset=User.objects.none(), required=False, empty_label=_("Everyone")
    )
    start = forms.DateField(
        label=pgettext_lazy("period", "From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end = forms.DateField(
        label=pgettext_lazy("period", "Until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    direction = forms.ChoiceField(
        label=_("Direction"), required=False, choices=[("", _("Any direction")), *Direction.choices]
    )
    reviewed = forms.ChoiceField(label=_("Review"), required=False, choices=REVIEWED)
    lead = forms.IntegerField(label=_("Lead #"), required=False, min_value=1)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = (
            User.objects.visible_to(user)
            .filter(role__in=LEAD_OWNER_ROLES, is_active=True)
            .order_by("name", "username")
        )
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", f"{css} {css}-sm")

    def apply(self, recordings):
        """The recordings the valid filters leave (invalid ones are ignored)."""
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("agent"):
            recordings = recordings.filter(agent=data["agent"])
        if data.get("start"):
            recordings = recordings.filter(started_at__gte=local_day_start(data["start"]))
        if data.get("end"):
            end = local_day_start(data["end"] + timedelta(days=1))
            recordings = recordings.filter(started_at__lt=end)
        if data.get("direction"):
            recordings = recordings.filter(direction=data["direction"])
        if data.get("reviewed"):
            # EXISTS rather than a join: no repeated rows, no DISTINCT.
            reviewed = Exists(Review.objects.filter(recording=OuterRef("pk")))
            recordings = recordings.filter(reviewed if data["reviewed"] == "yes" else ~reviewed)
        if data.get("lead"):
            recordings = recordings.filter(lead_id=data["lead"])
        return recordings


class ReviewForm(forms.Form):
    """One score (0..points) and an optional note per active checklist
    item, and a comment. Field names: ``item_<id>``, ``note_<id>``."""

    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
        max_length=2000,
    )

    def __init__(self, *args, items, review=None, **kwargs):
        initial = kwargs.pop("initial", {}) or {}
        if review is not None:
            initial["comment"] = review.comment
            for row in review.scores:
                initial[f"item_{row['item']}"] = row["score"]
                initial[f"note_{row['item']}"] = row.get("note", "")
        super().__init__(*args, initial=initial, **kwargs)
        self.items = items
        for item in items:
            self.fields[f"item_{item.pk}"] = forms.IntegerField(
                label=item.label,
                min_value=0,
                max_value=item.points,
                help_text=item.hint,
                widget=forms.NumberInput(
                    attrs={
                        "class": "form-control form-control-sm text-end",
                        "data-points": item.points,
                        "data-testid": "score-input",
                    }
                ),
            )
            self.fields[f"note_{item.pk}"] = forms.CharField(
                label=_("Note"),
                required=False,
                max_length=300,
                widget=forms.TextInput(
                    attrs={"class": "form-control form-control-sm", "placeholder": _("Note")}
                ),
            )

    @property
    def max_total(self) -> int:
        return sum(item.points for item in self.items)

    def rows(self):
        """(item, score field, note field) per item, for the template."""
        return [(item, self[f"item_{item.pk}"], self[f"note_{item.pk}"]) for item in self.items]

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "scores": {item.pk: data[f"item_{item.pk}"] for item in self.items},
            "notes": {item.pk: data.get(f"note_{item.pk}", "") for item in self.items},
            "comment": data.get("comment", ""),
        }


class ReviewItemForm(forms.ModelForm):
    class Meta:
        model = ReviewItem
        fields = ["label", "hint", "points", "order"]
        help_texts = {"order": _("Smaller first. Left empty for a new item: after the others.")}
