"""``{% panel_field field %}``: a form field of the call queue's work panel.

The panel is on the agents' most used page, and Django's widget rendering
(a template per widget and per option) cost more than the rest of the page
together (``tests/bench/test_queue_bench.py``). This renders the same
Bootstrap markup directly for the few widget kinds the panel uses; any other
widget falls back to Django's own rendering.
"""

from django import forms, template
from django.forms.utils import flatatt
from django.forms.widgets import CheckboxInput, Input
from django.utils.html import format_html, format_html_join

register = template.Library()


def _control(bound, css: str) -> str:
    widget = bound.field.widget
    attrs = {
        "name": bound.html_name,
        "id": bound.id_for_label,
        "class": css + (" is-invalid" if bound.errors else ""),
        **{key: value for key, value in widget.attrs.items() if key.startswith("data-")},
    }
    value = bound.value()
    if isinstance(widget, forms.Select) and not isinstance(widget, forms.SelectMultiple):
        attrs["class"] = attrs["class"].replace("form-control", "form-select")
        selected = "" if value is None else str(value)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (str(key), " selected" if str(key) == selected else "", label)
                for key, label in bound.field.choices
            ),
        )
        return format_html("<select{}>{}</select>", flatatt(attrs), options)
    if isinstance(widget, forms.Textarea):
        attrs["rows"] = widget.attrs.get("rows", 2)
        return format_html("<textarea{}>{}</textarea>", flatatt(attrs), value or "")
    if isinstance(widget, Input) and not isinstance(widget, CheckboxInput):
        attrs["type"] = widget.input_type
        shown = widget.format_value(value)
        if shown is not None:
            attrs["value"] = shown
        return format_html("<input{}>", flatatt(attrs))
    return str(bound)


@register.simple_tag
def panel_field(bound, size: str = ""):
    css = "form-control" + (f" form-control-{size}" if size else "")
    errors = format_html_join(
        "", '<div class="invalid-feedback d-block">{}</div>', ((e,) for e in bound.errors)
    )
    help_text = (
        format_html('<div class="form-text">{}</div>', bound.help_text) if bound.help_text else ""
    )
    return format_html(
        '<div class="mb-1"><label class="form-label{}" for="{}">{}</label>{}{}{}</div>',
        " small mb-0" if size else "",
        bound.id_for_label,
        bound.label,
        _control(bound, css),
        errors,
        help_text,
    )
