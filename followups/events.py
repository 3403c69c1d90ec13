"""What happens to follow-ups, announced for the apps above (DESIGN §7).

Sent by ``followups.services`` inside its transaction; an interested app
connects a receiver in its own ``receivers.py`` (telephony proves a logged
call with the PBX's records).
"""

from django.dispatch import Signal

# A follow-up was logged: kwargs ``followup`` (saved) and ``actor``.
followup_logged = Signal()

# A customer replied to an SMS (provider reply push): kwargs ``reply`` (a
# saved followups.SmsReply, its ``sms`` the message answered or None) and
# ``opt_out`` (True when the text asks to unsubscribe: 退订, TD…).
sms_replied = Signal()

# A delivery receipt arrived: kwargs ``message`` (the SmsMessage, updated)
# and ``delivered`` (bool).
sms_delivered = Signal()
# A store visit was recorded (a booked visit arrived, or a walk-in), maybe
# back-dated: kwargs ``appointment`` (saved, with its ``arrived_at``) and
# ``actor``.
visit_recorded = Signal()
