"""The layout's navigation and its badges, for every page."""

from dcc.policy import can
from desk.navigation import items_for
from followups.models import SlaBreach, SmsMessage, SmsStatus
from leads.models import Lead, Status


def _badges(user) -> dict:
    """Counts the layout shows next to navigation entries: open deadline
    breaches (DESIGN §2: notified to supervisor and manager), SMS that
    need a person and defeat requests waiting for approval. One COUNT
    each, for those who may see them."""
    badges = {}
    if can(user, "leads.assign"):  # who approves defeats (leads.services)
        badges["defeat_pending"] = (
            Lead.objects.visible_to(user).filter(status=Status.DEFEAT_PENDING).count()
        )
    if can(user, "followups.breaches.view"):
        badges["open_breaches"] = SlaBreach.objects.visible_to(user).open().count()
    if can(user, "followups.sms.view"):
        badges["sms_problems"] = (
            SmsMessage.objects.visible_to(user)
            .filter(status__in=[SmsStatus.FAILED, SmsStatus.UNCERTAIN])
            .count()
        )
    return badges


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "badges": {}}
    badges = _badges(user)
    return {"nav_items": items_for(user, request.path, badges), "badges": badges}
