"""What campaigns do when the follow-ups layer announces SMS facts
(followups.events): a reply marks the members of its number, 退订/TD opts
them out (the number is on the store's list already, followups.sms_callbacks)."""

from django.dispatch import receiver

from followups import events
from followups.campaigns import services


@receiver(events.sms_replied, dispatch_uid="campaigns.member_replied")
def on_sms_replied(sender, reply, opt_out, **kwargs):
    services.member_replied(reply=reply, opt_out=opt_out)
