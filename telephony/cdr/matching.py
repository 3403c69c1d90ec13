"""Matching a call: who answered it, whose lead it is. One rule in two forms,
kept side by side here and held equal by
tests/telephony/test_import_matching.py:

- the agent: the staff member who had the call's extension in the store
  when the call started (an assignment holds from ``valid_from``, included,
  to ``valid_to``, excluded; open ends hold for ever; the latest start wins);
- the lead: the latest lead (then the highest id) received by the end of
  the call (included): of the store, with the call's number as its own;
  else of a customer with the number among its other numbers in the store;
  no lead: a first-time caller when the call is inbound.

In SQL (:func:`staff_at`, :func:`lead_for_number`,
:func:`lead_for_other_number`, as subqueries; :func:`match_calls` over stored
calls): pages, recordings and re-matching after an assignment changed. In
Python (:class:`Matcher`): the import, which writes each call once, already
matched.
"""

from __future__ import annotations

from django.db.models import F, OuterRef, Q, Subquery

from leads.models import Lead
from telephony.models import Direction, ExtensionAssignment

# ---------------------------------------------------------------- in SQL


def staff_at(*, store_ref="store", extension_ref="extension", moment_ref="started_at"):
    """Subquery: who had the extension at the moment (OuterRef names)."""
    return Subquery(
        ExtensionAssignment.objects.filter(
            store=OuterRef(store_ref), extension=OuterRef(extension_ref)
        )
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=OuterRef(moment_ref)))
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=OuterRef(moment_ref)))
        .order_by(F("valid_from").desc(nulls_last=True))
        .values("staff_id")[:1]
    )


def lead_for_number(*, store_ref="store", number_ref="external_number", moment_ref="ended_at"):
    """Subquery: the lead a call with this number belongs to, by the lead's
    own number first: the latest lead received by the end of the call (a
    lead created during the call counts; calls from before any lead are
    first-time callers)."""
    leads = Lead.objects.filter(store=OuterRef(store_ref), phone=OuterRef(number_ref))
    return _latest_received(leads, moment_ref)


def lead_for_other_number(
    *, store_ref="store", number_ref="external_number", moment_ref="ended_at"
):
    """Subquery: as lead_for_number, by the customer's other numbers."""
    leads = Lead.objects.filter(
        customer__phones__store=OuterRef(store_ref),
        customer__phones__number=OuterRef(number_ref),
    )
    return _latest_received(leads, moment_ref)


def _latest_received(leads, moment_ref: str) -> Subquery:
    """Subquery: the latest of these leads received by the moment, then the
    highest id."""
    return Subquery(
        leads.filter(received_at__lte=OuterRef(moment_ref))
        .order_by("-received_at", "-pk")
        .values("pk")[:1]
    )


def match_calls(calls) -> None:
    """Link calls to staff (extension at the time) and leads (number), in SQL.
    (An import matches its calls as it writes them, by the same rule:
    Matcher.)"""
    calls.exclude(extension="").update(agent_id=staff_at())
    with_number = calls.exclude(external_number="")
    with_number.update(lead_id=lead_for_number())
    with_number.filter(lead__isnull=True).update(lead_id=lead_for_other_number())
    with_number.filter(direction=Direction.INBOUND, lead__isnull=True).update(new_caller=True)


# ---------------------------------------------------------------- in Python


class Matcher:
    """match_calls() for calls about to be written, so that each row is
    written once, matched (an UPDATE of a million fresh rows would write them
    all again). Same rules: the staff member who had the extension when the
    call started (staff_at), the lead of the number received by the end of
    the call, by the lead's own number, else by its customer's other numbers
    (lead_for_number, lead_for_other_number).

    The store's extension assignments are read once. Leads are read for the
    numbers of each batch not read before, until the numbers looked up come
    to a tenth of the store's leads: then all of them at once (cheaper than
    looking up that many numbers one by one), unless there are more than
    WHOLE_STORE (memory)."""

    WHOLE_STORE = 1_000_000

    def __init__(self, store_id: int, chunk: int):
        self.store_id = store_id
        self.chunk = chunk
        self.extensions: dict[str, list[tuple]] = {}
        assignments = (
            ExtensionAssignment.objects.filter(store_id=store_id)
            .order_by(F("valid_from").desc(nulls_last=True), "pk")
            .values_list("extension", "valid_from", "valid_to", "staff_id")
        )
        for extension, valid_from, valid_to, staff_id in assignments:
            self.extensions.setdefault(extension, []).append((valid_from, valid_to, staff_id))
        # number → [(received_at, lead id)], latest first
        self.by_phone: dict[str, list[tuple]] = {}
        self.by_other: dict[str, list[tuple]] = {}
        self.known: set[str] = set()
        self.complete = False  # every lead of the store read
        self.store_leads = None

    def _leads(self, numbers: list[str] | None):
        """(number, received_at, lead id) by the leads' own numbers, then by
        their customers' numbers: of these numbers, or all of the store's."""
        own = Lead.objects.filter(store_id=self.store_id)
        other = Lead.objects.filter(customer__phones__store_id=self.store_id)
        if numbers is not None:
            own = own.filter(phone__in=numbers)
            other = other.filter(customer__phones__number__in=numbers)
        yield self.by_phone, own.values_list("phone", "received_at", "pk").order_by()
        yield (
            self.by_other,
            other.values_list("customer__phones__number", "received_at", "pk").order_by(),
        )

    def prepare(self, numbers, *, everything=False) -> None:
        """Read the leads of the numbers not read yet."""
        if self.complete:
            return
        wanted = {number for number in numbers if number and number not in self.known}
        if not wanted and not everything:
            return
        if self.store_leads is None:
            self.store_leads = Lead.objects.filter(store_id=self.store_id).count()
        looked_up = len(self.known) + len(wanted)
        if everything or (
            looked_up > self.store_leads / 10 and self.store_leads <= self.WHOLE_STORE
        ):
            chunks = [None]
            self.by_phone.clear()
            self.by_other.clear()
            self.complete = True
        else:
            if looked_up > self.WHOLE_STORE:  # a huge store: forget, read again
                self.by_phone.clear()
                self.by_other.clear()
                self.known.clear()
            wanted = sorted(wanted)
            chunks = [wanted[i : i + self.chunk] for i in range(0, len(wanted), self.chunk)]
        for chunk in chunks:
            for table, rows in self._leads(chunk):
                for number, received_at, pk in rows:
                    leads = table.get(number)
                    if leads is None:
                        table[number] = [(received_at, pk)]
                    else:
                        leads.append((received_at, pk))
                        leads.sort(reverse=True)
        if not self.complete:
            self.known.update(wanted)

    def read_all_if(self, numbers: int) -> None:
        """Read all the store's leads now if about ``numbers`` numbers are
        to come: then the matcher is complete (read only) from the start."""
        if self.store_leads is None:
            self.store_leads = Lead.objects.filter(store_id=self.store_id).count()
        if numbers > self.store_leads / 10 and self.store_leads <= self.WHOLE_STORE:
            self.prepare([""], everything=True)

    def match(self, call) -> tuple[str, str, int | None, int | None, bool]:
        """(extension, number, agent id, lead id, new caller) of a call as
        it is written (extension and number at their columns' lengths)."""
        extension = (call.extension or "")[:20]
        number = call.external_number or ""
        agent = self.agent(extension, call.started_at) if extension else None
        lead = self.lead(number, call.ended_at) if number else None
        new_caller = bool(number and lead is None and call.direction == Direction.INBOUND)
        return extension, number, agent, lead, new_caller

    def agent(self, extension: str, moment) -> int | None:
        for valid_from, valid_to, staff_id in self.extensions.get(extension, ()):
            if (valid_from is None or valid_from <= moment) and (
                valid_to is None or valid_to > moment
            ):
                return staff_id
        return None

    def lead(self, number: str, moment) -> int | None:
        for table in (self.by_phone, self.by_other):
            for received_at, pk in table.get(number, ()):
                if received_at <= moment:
                    return pk
        return None
