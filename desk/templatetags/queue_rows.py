"""The call queue's rows, rendered in Python.

The queue list is the page agents wait for all day, and a template renders
its rows slowly: some 20 variable lookups, filters and an include per row,
about 30 rows a page, cost more than the rest of the page together (the
issue's benchmark: the template alone was 6 ms idle, a whole minimal page
about 4). Here each row is one ``format_html`` of prepared values: the same
markup, every value escaped, every label translated as before.
"""

from html import escape

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from dcc.timeutils import local_minute
from leads.templatetags.leads_ui import time_left

register = template.Library()

ROW = (
    '<a href="{url}" id="row-{key}" '
    'class="list-group-item list-group-item-action queue-row{active}" '
    'hx-get="{url}" hx-target="#work-panel" hx-swap="innerHTML" role="option" '
    'aria-selected="{selected}" data-queue-row data-key="{key}" data-kind="{kind}" '
    'data-testid="queue-row">'
    '<div class="d-flex align-items-baseline gap-2">'
    '<span class="badge text-bg-{style}">{label}</span> <strong>{name}</strong> '
    '<span class="text-muted small">{phone}</span> '
    '<span class="badge text-bg-light border ms-auto">{level}</span></div>'
    '<div class="small d-flex flex-wrap gap-2 mt-1">{why} '
    '<span class="text-muted">{line}</span></div></a>'
)
COUNTDOWN = (
    '<span data-testid="why">{first_contact}: <time datetime="{iso}" data-deadline="{iso}" '
    'data-testid="countdown" title="{title}">{left}</time></span>'
)
REASON = '<span{danger} data-testid="why">{reason}</span>'


def why(item, now) -> str:
    """Why an item is in the queue: a live countdown to a new lead's
    first-contact deadline, else ``QueueItem.reason``."""
    if item.kind == "new" and item.deadline:
        deadline = item.deadline
        return _format(
            COUNTDOWN,
            first_contact=gettext("First contact"),
            iso=_iso(deadline),
            title=local_minute(deadline),
            left=time_left(deadline, now),
        )
    danger = mark_safe(' class="text-danger"') if item.kind == "overdue" else ""
    return _format(REASON, danger=danger, reason=item.reason)


def _format(html: str, **values) -> SafeString:
    """``format_html``, minus the lazy-text checks its escaping repeats."""
    return mark_safe(  # noqa: S308 - every value escaped unless already safe
        html.format(
            **{
                name: value if hasattr(value, "__html__") else escape(str(value))
                for name, value in values.items()
            }
        )
    )


def _iso(moment) -> str:
    return timezone.localtime(moment).isoformat()


@register.simple_tag
def queue_why(item, now):
    return why(item, now)


@register.simple_tag
def queue_rows(items, active_key, queue_url, now):
    """Every row of the queue list (``desk.views.queue._labelled`` prepared
    their labels)."""
    return mark_safe(  # noqa: S308 - each row is a _format
        "\n".join(
            _format(
                ROW,
                url=f"{queue_url}{item.key}/",
                key=item.key,
                active=" active-row" if item.key == active_key else "",
                selected="true" if item.key == active_key else "false",
                kind=item.kind,
                style=item.style,
                label=item.label,
                name=item.lead.customer.name,
                phone=item.lead.phone_display,
                level=item.lead.level,
                why=why(item, now),
                line=item.line,
            )
            for item in items
        )
    )
