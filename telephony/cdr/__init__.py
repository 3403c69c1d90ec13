"""The call-log bulk-load engine behind ``telephony.services.import_cdr``:
a million CDR rows into one store in one transaction.

- ``reading``: the reader thread that parses the file into batches of calls
  while the import writes the previous batch; the garbage collector off
  meanwhile;
- ``legs``: a call's legs as JSON (encoded two ways, decoded);
- ``matching``: the matching rule (agent by extension at the time, lead by
  number), in SQL and in Python, side by side;
- ``loading``: :class:`CdrImport`, which writes the calls (COPY), merges late
  legs into stored calls and keeps the report's counts;
- ``stores``: one PBX for a group's stores (each call to the store of who
  had its extension; the store a file names).

What other modules use is named here; the rest is the engine's own.
"""

from telephony.cdr.legs import LEG_FIELDS, LEG_TIMES, leg_from_json, leg_json, leg_text, legs_text
from telephony.cdr.loading import CdrImport
from telephony.cdr.matching import (
    Matcher,
    lead_for_number,
    lead_for_other_number,
    match_calls,
    staff_at,
)
from telephony.cdr.stores import home_store, rehome

__all__ = [
    "LEG_FIELDS",
    "LEG_TIMES",
    "CdrImport",
    "Matcher",
    "home_store",
    "lead_for_number",
    "lead_for_other_number",
    "leg_from_json",
    "leg_json",
    "leg_text",
    "legs_text",
    "match_calls",
    "rehome",
    "staff_at",
]
