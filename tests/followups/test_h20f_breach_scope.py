"""The open-breach badge's scope (issue 20): a supervisor's breaches are
found through the team members' leads (an index-only lookup at volume), and
are the same rows as the generic team scope (the lead's owner in the team,
or the supervisor)."""

from datetime import timedelta

import pytest
from django.db.models import Q
from django.utils import timezone

from followups.models import BreachKind, SlaBreach

pytestmark = pytest.mark.django_db


def test_a_supervisor_sees_the_breaches_of_the_team_members_leads_and_own(
    make_lead, alice, bob, carol, sue, mike, store_a
):
    due = timezone.now() - timedelta(days=1)
    owners = {"alice": alice, "bob": bob, "carol": carol, "sue": sue, "nobody": None}
    breaches = {}
    for name, owner in owners.items():
        lead = make_lead(mike)
        lead.owner = owner
        lead.save(update_fields=["owner"])
        breaches[name] = SlaBreach.objects.create(
            store=store_a, lead=lead, kind=BreachKind.MANUFACTURER_48H, due_at=due, owner=owner
        )
    seen = set(SlaBreach.objects.visible_to(sue).open().values_list("pk", flat=True))
    assert seen == {breaches[name].pk for name in ("alice", "bob", "sue")}
    generic = Q(lead__owner__team=sue.team_id) | Q(lead__owner=sue.pk)
    assert seen == set(SlaBreach.objects.filter(generic).open().values_list("pk", flat=True))
    # Without a team: only the supervisor's own.
    sue.team = None
    assert set(SlaBreach.objects.visible_to(sue).values_list("pk", flat=True)) == {
        breaches["sue"].pk
    }
