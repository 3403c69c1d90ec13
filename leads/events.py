"""What happens to leads, announced for the apps above leads (DESIGN §7).

The services of leads send these explicitly, inside their transaction, on
every path that does the thing: one lead typed in and thousands imported
alike (a model's save hook would miss ``bulk_create``). An interested app
connects its receiver in its own ``receivers.py``; leads never learns who
listens. A receiver runs in the sender's transaction: if it fails, the
change is undone with it.
"""

from django.dispatch import Signal

# Leads were created (by the form, the API, the Excel import, a call):
# kwargs ``leads`` (a list of saved leads, one or many) and ``actor``; a
# file import adds ``lead_import`` (its ``LeadImport`` row).
leads_created = Signal()

# Leads were removed by undoing their import (nobody had worked on them):
# kwargs ``lead_ids`` and ``actor``. Rows that point at them were cascaded
# or set to null by the database already.
leads_removed = Signal()

# What a lead's past records count for changed: its owner or store (the
# credit of its whole history moves), its customer details (whether it is a
# valid A-card), its customer, or a deal was recorded. kwargs ``leads`` (a
# list) and ``since``, the earliest moment whose records the change concerns
# (the leads' receipt; a back-dated deal's time if earlier). The KPIs'
# stored figures of closed months listen (kpi.receivers).
leads_changed = Signal()

# A lead left the open statuses (defeated, invalid, delivered): kwargs
# ``lead`` and ``status``.
lead_closed = Signal()

# Two leads were found to be one (leads.services.lead_merge): kwargs
# ``keep`` (the lead that stays), ``merge`` (the lead being closed as merged)
# and ``actor``. Sent before ``merge`` is closed, in the merge's transaction:
# each app moves the rows it keeps on ``merge`` to ``keep`` (bulk updates),
# or raises ``leads.lifecycle.LeadStateError`` to refuse the merge.
leads_merged = Signal()
