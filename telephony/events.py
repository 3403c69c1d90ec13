"""What happens to calls, announced for whoever reacts (DESIGN §7).

Sent inside the import's transaction, once per file, after its calls are
stored and matched to staff and leads; receivers are connected in the
reacting app's ``receivers.py`` (telephony itself verifies the follow-ups
logged near the calls).
"""

from django.dispatch import Signal

# A call-log file's calls were stored: kwargs ``store_id``, ``since`` and
# ``until`` (the first and last call's start) and ``call_import`` (the report).
calls_imported = Signal()
