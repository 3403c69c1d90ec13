"""What the lead pages tell people about leads (shared by the pages that
create leads: the new-lead form and a call turned into a lead)."""

from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from leads import phones
from leads.models import Lead


def duplicate_message(existing: Lead, user) -> str:
    """Name the existing lead and its owner; link to it only for someone who
    may open it, and otherwise reveal nothing but the masked number."""
    owner = existing.owner.display_name if existing.owner_id else _("nobody yet")
    if Lead.objects.visible_to(user).filter(pk=existing.pk).exists():
        return format_html(
            '{} <a href="{}" class="alert-link" data-testid="duplicate-link">{}</a>',
            _(
                "This customer (%(phone)s) already has an open lead #%(id)s, "
                "owned by %(owner)s. Nothing was created."
            )
            % {"phone": existing.phone_display, "id": existing.pk, "owner": owner},
            reverse("desk:lead", args=[existing.pk]),
            _("Open lead #%(id)s") % {"id": existing.pk},
        )
    return _(
        "The number %(phone)s already has an open lead #%(id)s, owned by %(owner)s. "
        "Nothing was created; ask your manager if the customer should be yours."
    ) % {"phone": phones.masked(existing.phone), "id": existing.pk, "owner": owner}
