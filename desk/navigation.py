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
    # A context-processor count shown as a badge (desk.context_processors).
    badge: str | None = None


@dataclass(frozen=True)
class NavMenu:
    """Entries under one drop-down: the bar keeps the daily work in view and
    fits one line (a manager holds some twenty entries). A menu with one
    entry the user may open is shown as that entry."""

    label: str
    icon: str
    items: tuple[NavItem, ...]


NAV = [
    NavItem(_("Home"), "desk:home", "house"),
    # The badge: defeat requests waiting for the manager's approval.
    NavItem(_("Leads"), "leads:list", "person-lines-fill", badge="defeat_pending"),
    NavItem(_("Visits"), "desk:appointments", "calendar-check"),
    # The pool (公海): the store's leads waiting to be claimed — daily work
    # for those who claim; for those who redistribute it is under Manage.
    NavItem(_("Pool"), "followups:pool", "water", "leads.pool.claim"),
    NavItem(_("Calls"), "telephony:calls", "telephone"),
    NavItem(
        _("Breaches"),
        "followups:breaches",
        "alarm",
        "followups.breaches.view",
        badge="open_breaches",
    ),
    NavItem(_("SMS"), "followups:sms", "chat-dots", "followups.sms.view", badge="sms_problems"),
    NavMenu(
        _("Campaigns"),
        "megaphone",
        (
            NavItem(_("Campaigns"), "campaigns:list", "megaphone", "campaigns.view"),
            NavItem(
                _("Events"), "campaigns-events:list", "calendar-event", "campaigns.events.view"
            ),
            NavItem(_("Owners"), "leads:owners", "car-front", "owners.view"),
            NavItem(_("Opt-out list"), "leads:opt-outs", "slash-circle", "owners.opt_out"),
        ),
    ),
    NavMenu(
        _("Performance"),
        "graph-up",
        (
            NavItem(_("Dashboard"), "kpi:dashboard", "speedometer2", "kpi.dashboard.view"),
            NavItem(_("Campaign funnels"), "kpi:campaigns", "funnel", "campaigns.funnel.view"),
            NavItem(_("KPIs"), "kpi:index", "graph-up", "kpi.view"),
            NavItem(_("Scorecard"), "kpi:scorecard", "clipboard-check", "kpi.scorecard.view"),
            NavItem(_("Workbooks"), "kpi:exports", "file-earmark-excel", "kpi.export"),
            NavItem(
                _("First contact"),
                "followups:first-contact",
                "stopwatch",
                "followups.team_health.view",
            ),
        ),
    ),
    NavMenu(
        _("Call quality"),
        "headset",
        (
            NavItem(
                _("Call statistics"),
                "telephony:call-stats",
                "bar-chart-line",
                "telephony.stats.view",
            ),
            NavItem(
                _("Unverified calls"),
                "telephony:verification",
                "telephone-x",
                "telephony.stats.view",
            ),
            NavItem(_("Reviews"), "telephony:reviews", "star", "telephony.review"),
            NavItem(_("My reviews"), "telephony:my-reviews", "star-half", "telephony.reviews.own"),
        ),
    ),
    NavMenu(
        _("Manage"),
        "sliders",
        (
            NavItem(_("Assignment"), "leads:assignment", "shuffle", "leads.assign"),
            NavItem(_("Pool"), "followups:pool", "water", "leads.pool.redistribute"),
            NavItem(
                _("Distribution rules"),
                "leads:distribution",
                "signpost-split",
                "leads.distribution.manage",
            ),
            NavItem(_("Import"), "leads:import", "file-earmark-spreadsheet", "leads.import"),
            NavItem(_("Lead connectors"), "leads:connectors", "plug", "leads.connectors.manage"),
            NavItem(_("Duplicates"), "leads:duplicates", "intersect", "leads.duplicates.view"),
            NavItem(_("Call logs"), "telephony:imports", "cloud-upload", "telephony.import"),
            NavItem(
                _("Call-log sources"),
                "telephony:sources",
                "hdd-network",
                "telephony.sources.manage",
            ),
            NavItem(_("Store rules"), "followups:settings", "sliders", "followups.policy.manage"),
            NavItem(_("Organisation"), "directory", "diagram-3", "org.directory.view"),
            NavItem(_("Access log"), "access-log", "eye", "org.access_log.view"),
            NavItem(_("API"), "api-docs", "braces", "org.admin_site"),
            NavItem(_("Administration"), "admin:index", "gear", "org.admin_site"),
        ),
    ),
]


def _entry(item: NavItem, badges: dict) -> dict:
    return {
        "label": item.label,
        "url": reverse(item.url_name),
        "icon": item.icon,
        "active": False,
        "badge": badges.get(item.badge) if item.badge else None,
        "badge_key": item.badge or "",
    }


def items_for(user, current_path: str, badges: dict | None = None):
    """The user's entries and menus (a menu: ``children``); the active entry
    is the one whose address is the longest start of the current path
    (``/kpi/dashboard/…`` is the dashboard's, not also the KPIs' at
    ``/kpi/``), and its menu is active with it."""
    badges = badges or {}
    items = []
    for node in NAV:
        if isinstance(node, NavMenu):
            children = [
                _entry(item, badges)
                for item in node.items
                if not item.capability or can(user, item.capability)
            ]
            if len(children) > 1:
                items.append(
                    {"label": node.label, "icon": node.icon, "active": False, "children": children}
                )
            else:
                items.extend(children)
        elif not node.capability or can(user, node.capability):
            items.append(_entry(node, badges))
    entries = [(entry, None) for entry in items if "children" not in entry]
    entries += [
        (child, entry) for entry in items if "children" in entry for child in entry["children"]
    ]
    matches = [
        (entry, menu)
        for entry, menu in entries
        if (current_path == "/" if entry["url"] == "/" else current_path.startswith(entry["url"]))
    ]
    if matches:
        entry, menu = max(matches, key=lambda match: len(match[0]["url"]))
        entry["active"] = True
        if menu is not None:
            menu["active"] = True
    return items
