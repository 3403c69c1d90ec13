"""``{% form_field field wrapper_class="mb-1" %}``: django-bootstrap5's
``{% bootstrap_field %}`` markup, written in Python for the widgets the
working screens' small forms use (inputs, text areas, selects).

``bootstrap_field`` builds a renderer object, reads its settings and renders
the widget, its label, help and errors through a template each: on the lead
page that was a third of the time of the page's one form. This writes the
same HTML (``tests/desk/test_form_field.py`` holds it to
``bootstrap_field``'s, bound and not, with errors) with bootstrap5's default
settings (which the project keeps); any other widget (a checkbox, radios,
a file) goes to ``bootstrap_field`` itself.
"""

from django import forms, template
from django.forms.widgets import Input
from django.utils.html import conditional_escape, format_html, format_html_join, strip_tags
from django.utils.safestring import mark_safe
from django_bootstrap5.css import merge_css_classes
from django_bootstrap5.forms import render_field
from django_bootstrap5.text import text_value
from django_bootstrap5.widgets import is_widget_with_placeholder

from dcc.forms import _html_attrs, select_html

register = template.Library()

# The widget templates written here (each includes Django's input.html).
INPUT_TEMPLATES = {
    f"django/forms/widgets/{name}.html"
    for name in ("input", "text", "number", "email", "url", "tel", "date", "time", "datetime")
}
CONTROL_TYPES = {
    "text",
    "number",
    "email",
    "url",
    "tel",
    "date",
    "time",
    "password",
    "month",
    "datetime-local",
    "week",
    "search",
}


def _kind(widget) -> str | None:
    """Which of the widgets written here ``widget`` is, or None."""
    if isinstance(widget, forms.MultiWidget):
        return None
    if (
        isinstance(widget, forms.Select)
        and not isinstance(widget, (forms.SelectMultiple, forms.RadioSelect))
        and widget.template_name == "django/forms/widgets/select.html"
        and widget.option_template_name == "django/forms/widgets/select_option.html"
    ):
        return "select"
    if isinstance(widget, forms.Textarea) and widget.template_name == (
        "django/forms/widgets/textarea.html"
    ):
        return "textarea"
    if (
        isinstance(widget, Input)
        and not isinstance(widget, (forms.CheckboxInput, forms.FileInput))
        and widget.input_type in CONTROL_TYPES
        and widget.template_name in INPUT_TEMPLATES
    ):
        return "input"
    return None


def _widget_html(kind: str, widget) -> str:
    """Django's widget templates (input, textarea, select) in Python."""
    attrs = {name: value for name, value in widget["attrs"].items() if value is not False}
    if kind == "select":
        return select_html(widget)
    if kind == "textarea":
        return format_html(
            '<textarea name="{}"{}>\n{}</textarea>',
            widget["name"],
            _html_attrs(attrs),
            widget["value"] or "",
        )
    value = widget["value"]
    return format_html(
        '<input type="{}" name="{}"{}{}>',
        widget["type"],
        widget["name"],
        format_html(' value="{}"', value) if value is not None else "",
        _html_attrs(attrs),
    )


@register.simple_tag
def form_field(bound, wrapper_class="mb-3"):
    widget = bound.field.widget
    kind = _kind(widget)
    form = bound.form
    if kind is None or bound.is_hidden or not bound.auto_id:
        return render_field(bound, wrapper_class=wrapper_class)
    label = text_value(bound.label)
    errors = [conditional_escape(text_value(error)) for error in bound.errors]
    # The widget's attributes as FieldRenderer.add_widget_attrs sets them.
    attrs = dict(widget.attrs)
    validation = "is-invalid" if errors else "is-valid" if form.is_bound else ""
    attrs["class"] = merge_css_classes(
        "form-select" if kind == "select" else "form-control", attrs.get("class", ""), validation
    )
    placeholder = attrs.get("placeholder", label)
    if placeholder and is_widget_with_placeholder(widget):
        attrs["placeholder"] = conditional_escape(strip_tags(placeholder))
    # … and as BoundField.as_widget passes them on.
    if bound.field.localize:
        widget.is_localized = True
    attrs = bound.build_widget_attrs(attrs, widget)
    if "id" not in widget.attrs:
        attrs.setdefault("id", bound.auto_id)
    context = widget.get_context(bound.html_name, bound.value(), attrs)["widget"]
    field_html = _widget_html(kind, context)

    errors_html = ""
    if errors:
        errors_html = format_html(
            '<div id="{}_error" class="w-100">{}</div>',
            bound.auto_id,
            format_html_join(
                "", '<div class="invalid-feedback d-block">{}</div>', ((e,) for e in errors)
            ),
        )
    help_html = ""
    if bound.help_text:
        help_html = format_html(
            '<div id="{}_helptext" class="form-text">{}</div>',
            bound.auto_id,
            mark_safe(text_value(bound.help_text)),  # noqa: S308 - as bootstrap's |safe
        )
    wrapper = [wrapper_class]
    if errors:
        wrapper.append(getattr(form, "error_css_class", ""))
    elif form.is_bound:
        wrapper.append(getattr(form, "success_css_class", ""))
    if bound.field.required and not form.empty_permitted:
        wrapper.append(getattr(form, "required_css_class", ""))
    return format_html(
        '<div class="{}"><label class="form-label" for="{}">{}</label>{}{}{}</div>',
        merge_css_classes(*wrapper),
        bound.id_for_label,
        label,
        field_html,
        errors_html,
        help_html,
    )
