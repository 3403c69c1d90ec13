"""What telephony does when other apps' data changes."""

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from leads.models import Lead
from telephony import services, verification
from telephony.models import ExtensionAssignment


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="telephony.sync_extension")
def staff_saved(sender, instance, update_fields=None, raw=False, **kwargs):
    # A sign-in saves last_login only: nothing about extensions changed.
    if raw or (update_fields and set(update_fields) <= {"last_login"}):
        return
    services.sync_extension(instance)


@receiver(post_save, sender=Lead, dispatch_uid="telephony.link_new_lead")
def lead_saved(sender, instance, created=False, raw=False, **kwargs):
    if created and not raw:
        services.link_calls_to_lead(instance)


@receiver(post_save, sender="followups.FollowUp", dispatch_uid="telephony.verify_followup")
def followup_saved(sender, instance, created=False, raw=False, **kwargs):
    # Calls imported before the follow-up was logged may already prove it.
    if created and not raw:
        verification.verify_followup(instance)


@receiver(post_save, sender=ExtensionAssignment, dispatch_uid="telephony.assignment_saved")
@receiver(post_delete, sender=ExtensionAssignment, dispatch_uid="telephony.assignment_deleted")
def assignment_changed(sender, instance, raw=False, **kwargs):
    # Who had the extension when changed: its calls and what they verify.
    if raw:
        return
    services.rematch_extension(instance.store_id, instance.extension)
    verification.reverify_extension(store_id=instance.store_id, extension=instance.extension)
