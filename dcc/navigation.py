"""The layout's navigation, by role: one table, filtered through the policy.

Each app adds its entries here when it gains pages; an entry shows when the
user holds its capability (or, with none, to everyone signed in).
"""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from dcc.policy import can


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    icon: str
    capability: str | None = None
    # A context-processor count shown as a badge (dcc.context_processors).
    badge: str | None = None


NAV = [
    NavItem(_("Home"), "home", "house"),
    NavItem(_("Leads"), "leads:list", "person-lines-fill"),
    NavItem(_("Visits"), "followups:appointments", "calendar-check"),
    NavItem(_("Calls"), "telephony:calls", "telephone"),
    NavItem(_("KPIs"), "kpi:index", "graph-up", "kpi.view"),
    NavItem(_("Dashboard"), "kpi:dashboard", "speedometer2", "kpi.dashboard.view"),
    NavItem(_("Scorecard"), "kpi:scorecard", "clipboard-check", "kpi.scorecard.view"),
    NavItem(_("Workbooks"), "kpi:exports", "file-earmark-excel", "kpi.export"),
    NavItem(
        _("Breaches"),
        "followups:breaches",
        "alarm",
        "followups.breaches.view",
        badge="open_breaches",
    ),
    NavItem(
        _("First contact"), "followups:first-contact", "stopwatch", "followups.team_health.view"
    ),
    NavItem(_("Call statistics"), "telephony:call-stats", "bar-chart-line", "telephony.stats.view"),
    NavItem(_("Unverified calls"), "telephony:verification", "telephone-x", "telephony.stats.view"),
    NavItem(_("Reviews"), "telephony:reviews", "star", "telephony.review"),
    NavItem(_("My reviews"), "telephony:my-reviews", "star-half", "telephony.reviews.own"),
    NavItem(_("SMS"), "followups:sms", "chat-dots", "followups.sms.view", badge="sms_problems"),
    NavItem(_("Store rules"), "followups:settings", "sliders", "followups.policy.manage"),
    NavItem(_("Assignment"), "leads:assignment", "shuffle", "leads.assign"),
    NavItem(_("Import"), "leads:import", "file-earmark-spreadsheet", "leads.import"),
    NavItem(_("Call logs"), "telephony:imports", "cloud-upload", "telephony.import"),
    NavItem(_("Organisation"), "directory", "diagram-3", "org.directory.view"),
    NavItem(_("API"), "api-docs", "braces", "org.admin_site"),
    NavItem(_("Administration"), "admin:index", "gear", "org.admin_site"),
]


def items_for(user, current_path: str, badges: dict | None = None):
    """The user's entries; the active one is the entry whose address is the
    longest start of the current path (``/kpi/dashboard/…`` is the
    dashboard's, not also the KPIs' at ``/kpi/``)."""
    badges = badges or {}
    items = []
    for item in NAV:
        if item.capability and not can(user, item.capability):
            continue
        url = reverse(item.url_name)
        items.append(
            {
                "label": item.label,
                "url": url,
                "icon": item.icon,
                "active": False,
                "badge": badges.get(item.badge) if item.badge else None,
            }
        )
    matches = [
        entry
        for entry in items
        if (current_path == "/" if entry["url"] == "/" else current_path.startswith(entry["url"]))
    ]
    if matches:
        max(matches, key=lambda entry: len(entry["url"]))["active"] = True
    return items
