"""What happens to the organisation, announced for the apps above dcc.

Sent by ``dcc.services`` (and by the Django admin and the demo loader, which
write staff too) inside their transaction; telephony keeps who had which
extension when from it.
"""

from django.dispatch import Signal

# A member of staff was created or changed (role, store, extension, active):
# kwargs ``staff`` (saved) and ``actor`` (None for the demo loader).
staff_saved = Signal()
