"""What telephony does when something happens in the apps below it.

Each receiver answers an event that a service announced explicitly
(``dcc.events``, ``leads.events``, ``followups.events``), so bulk paths such
as the Excel import are covered exactly like a lead typed into the form.
Receivers run in the sender's transaction.
"""

from django.dispatch import receiver

from dcc.events import staff_saved
from followups.events import followup_logged
from leads.events import leads_created
from telephony import services, verification
from telephony.events import calls_imported


@receiver(staff_saved, dispatch_uid="telephony.sync_extension")
def keep_extension_holders(sender, *, staff, **kwargs):
    services.sync_extension(staff)


@receiver(leads_created, dispatch_uid="telephony.link_new_leads")
def link_earlier_calls(sender, *, leads, **kwargs):
    # A first-time caller who has now become a lead: their calls are its.
    services.link_calls_to_leads(leads)


@receiver(followup_logged, dispatch_uid="telephony.verify_followup")
def prove_followup(sender, *, followup, **kwargs):
    # Calls imported before the follow-up was logged may already prove it.
    verification.verify_followup(followup)


@receiver(calls_imported, dispatch_uid="telephony.verify_followups_near_calls")
def prove_followups_near_calls(sender, *, store_id, since, until, **kwargs):
    # Follow-ups logged before the file arrived: its calls may prove them.
    verification.verify_store_period(store_id=store_id, since=since, until=until)
