"""Form pieces shared by the apps."""

from django import forms
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from dcc.models import Store


class StoreChoiceMixin:
    """A ``store`` field for a group administrator only; everyone else works
    in their own store and the field is removed. Call ``limit_store(user)``
    from ``__init__``."""

    @staticmethod
    def store_field():
        return forms.ModelChoiceField(
            label=_("Store"),
            queryset=Store.objects.none(),
            required=False,
            widget=forms.Select(attrs={"class": "form-select"}),
        )

    def limit_store(self, user):
        if user.sees_all_stores:
            self.fields["store"].queryset = Store.objects.visible_to(user).filter(is_active=True)
            self.fields["store"].required = user.store_id is None
            self.fields["store"].initial = user.store_id
        else:
            del self.fields["store"]


def _html_attrs(attrs: dict) -> str:
    """Django's ``django/forms/widgets/attrs.html`` in Python: ``False``
    leaves the attribute out, ``True`` writes its name alone."""
    return mark_safe(  # noqa: S308 - every part escaped by format_html
        "".join(
            format_html(" {}", name) if value is True else format_html(' {}="{}"', name, value)
            for name, value in attrs.items()
            if value is not False
        )
    )


class PlainSelect(forms.Select):
    """A select that writes the same HTML as Django's templates, in Python.
    Django renders every option through a template of its own: for a list of
    the store's staff (a hundred and more people) that was a large share of
    the lead page's and the work panel's time."""

    def render(self, name, value, attrs=None, renderer=None):
        return select_html(self.get_context(name, value, attrs)["widget"])


def select_html(widget: dict) -> str:
    """Django's ``select.html`` and ``select_option.html`` in Python, from a
    select widget's context."""
    parts = [format_html('<select name="{}"{}>', widget["name"], _html_attrs(widget["attrs"]))]
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(format_html('\n  <optgroup label="{}">', group_name))
        parts.extend(
            format_html(
                '\n  <option value="{}"{}>{}</option>',
                option["value"],
                _html_attrs(option["attrs"]),
                option["label"],
            )
            for option in options
        )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return mark_safe("".join(parts))  # noqa: S308 - every part escaped by format_html
