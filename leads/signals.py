"""Signals other apps listen to, so that leads need not know them."""

from django.dispatch import Signal

# Sent inside the service's transaction when a lead leaves the open statuses
# (defeated, invalid, delivered); kwargs: lead, status, actor. Follow-ups
# cancel the lead's pending visits and their SMS.
lead_closed = Signal()
