"""What telephony does when something happens in the apps below it.

Each receiver answers an event that a service announced explicitly
(``dcc.events``, ``leads.events``, ``followups.events``), so bulk paths such
as the Excel import are covered exactly like a lead typed into the form.
Receivers run in the sender's transaction.
"""

from django.dispatch import receiver

from dcc.events import staff_saved
from followups.events import followup_logged
from leads.events import leads_created, leads_merged
from telephony import first_contact, recordings, services, verification
from telephony.events import calls_imported


@receiver(staff_saved, dispatch_uid="telephony.sync_extension")
def keep_extension_holders(sender, *, staff, **kwargs):
    services.sync_extension(staff)


@receiver(leads_created, dispatch_uid="telephony.link_new_leads")
def link_earlier_calls(sender, *, leads, **kwargs):
    # A first-time caller who has now become a lead: their calls are its.
    services.link_calls_to_leads(leads)
    # (Those calls came before the lead: none can meet its first-contact rule.)


@receiver(followup_logged, dispatch_uid="telephony.verify_followup")
def prove_followup(sender, *, followup, **kwargs):
    # Calls imported before the follow-up was logged may already prove it.
    if verification.verify_followup(followup):
        followup.refresh_from_db(fields=["verified_call"])
        first_contact.record_followup_call(followup)


@receiver(calls_imported, dispatch_uid="telephony.verify_followups_near_calls")
def prove_followups_near_calls(sender, *, store_id, since, until, **kwargs):
    # Follow-ups logged before the file arrived: its calls may prove them.
    verification.verify_store_period(store_id=store_id, since=since, until=until)
    # Recordings that came before their call log: linked to their calls now.
    if since is not None and until is not None:
        recordings.link_unlinked(store_id=store_id, calls_between=(since, until))
    # The leads its connected calls first contacted (followups.sla).
    first_contact.record_store_calls(store_id=store_id, since=since, until=until)


@receiver(leads_merged, dispatch_uid="telephony.move_calls_of_merged_lead")
def move_calls_of_merged_lead(sender, *, keep, merge, **kwargs):
    services.move_calls_of_merged_lead(keep=keep, merge=merge)
