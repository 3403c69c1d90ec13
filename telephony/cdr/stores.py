"""One PBX for a group's stores (issue 14 §5): a call belongs to the store of
the staff member who had its extension at the time; the source's store (the
one the file is imported into) when nobody had it.

- :func:`home_store`: for an importer who names no store (a group
  administrator), the store the file's extensions name: the store of the
  staff who had most of the extensions of its first calls at the time.
- :func:`rehome`: after the file is written into its store, its calls whose
  extension nobody there had but staff of another store did (in the stores
  the importer may import into) move to that store and are matched there
  (agent, lead, first-time caller). Nothing to do, and one query, when the
  other stores never had those extensions.
"""

from __future__ import annotations

from collections import Counter
from itertools import islice

from django.db.models import Exists, Max, Min, OuterRef, Q

from dcc.models import Store
from telephony import parsers
from telephony.cdr.matching import match_calls
from telephony.models import Call, ExtensionAssignment
from telephony.parsers import card_index

SAMPLE_LEGS = 5_000


def _stores_for(actor):
    """The stores an import by ``actor`` may put calls in (None: the system's
    folder job and command: every store)."""
    return Store.objects.all() if actor is None else Store.objects.visible_to(actor)


def home_store(actor, fileobj, config: parsers.SourceConfig) -> Store | None:
    """The store the file's first calls' extensions name (most often), among
    the stores ``actor`` may import into; None when they name none. The
    file is left at its start."""
    holders: dict[str, list[tuple]] = {}
    assignments = ExtensionAssignment.objects.filter(store__in=_stores_for(actor)).values_list(
        "extension", "valid_from", "valid_to", "store_id"
    )
    for extension, valid_from, valid_to, store_id in assignments:
        holders.setdefault(extension, []).append((valid_from, valid_to, store_id))
    votes: Counter = Counter()
    legs = parsers.parse(fileobj, config)
    if config.format == "card_index":
        legs = card_index.call_legs(legs)
    for leg in islice(legs, SAMPLE_LEGS):
        if leg.__class__ is parsers.ParseError or not leg.extension:
            continue
        moment = leg.started_at
        for valid_from, valid_to, store_id in holders.get(leg.extension, ()):
            if (valid_from is None or valid_from <= moment) and (
                valid_to is None or valid_to > moment
            ):
                votes[store_id] += 1
    fileobj.seek(0)
    if not votes:
        return None
    (store_id, _count), *_rest = votes.most_common(1)
    return Store.objects.get(pk=store_id)


def rehome(actor, report) -> dict[int, tuple]:
    """Move the report's calls to the store of whoever had their extension
    (see the module). ``{store id: (first start, last start)}`` of the stores
    that received calls."""
    home = report.store_id
    if not report.unknown_extensions:  # every extension had someone in the store
        return {}
    others = _stores_for(actor).exclude(pk=home).values("pk")
    if not ExtensionAssignment.objects.filter(store__in=others).exists():
        return {}
    calls = Call.objects.filter(store_id=home, call_import_id=report.pk)
    unknown = calls.filter(agent__isnull=True).exclude(extension="")
    extensions = list(unknown.values_list("extension", flat=True).distinct().order_by()[:10_000])
    if not extensions:
        return {}
    candidates = list(
        ExtensionAssignment.objects.filter(store__in=others, extension__in=extensions)
        .values_list("store_id", flat=True)
        .distinct()
        .order_by("store_id")
    )
    moved: dict[int, tuple] = {}
    for store_id in candidates:
        held = ExtensionAssignment.objects.filter(
            store_id=store_id, extension=OuterRef("extension")
        ).filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=OuterRef("started_at")),
            Q(valid_to__isnull=True) | Q(valid_to__gt=OuterRef("started_at")),
        )
        taken = Call.objects.filter(store_id=store_id, key=OuterRef("key"))
        ids = list(unknown.filter(Exists(held)).filter(~Exists(taken)).values_list("pk", flat=True))
        if not ids:
            continue
        Call.objects.filter(pk__in=ids).update(
            store_id=store_id, agent=None, lead=None, new_caller=False
        )
        there = Call.objects.filter(pk__in=ids)
        match_calls(there)
        span = there.aggregate(first=Min("started_at"), last=Max("started_at"))
        moved[store_id] = (span["first"], span["last"])
    if moved:
        report.count_matches(Call.objects.filter(call_import_id=report.pk))
    return moved
