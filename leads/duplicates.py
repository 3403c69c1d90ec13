"""The duplicate finder: pairs of leads that may be one customer, with the
reason, among the leads the viewer may see (``LeadQuerySet.visible_to``).

Three reasons, one set-based query (a self-join per reason, UNION ALL,
paged in the database):

- ``other_store``: the same number in two stores of the group (only an
  administrator sees two stores' leads, so only they get these pairs);
- ``same_customer``: one customer (merged records, ``customer_merge``) with
  leads on two numbers;
- ``similar_phone``: the same full name in one store on numbers of the same
  length that differ in at most two digits (a typo). Compared digit by digit
  with SUBSTR, which PostgreSQL and SQLite both have.

Merged leads are left out: they are one already.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.utils.translation import gettext_lazy as _

from leads.models import Lead, Status

REASONS = {
    "other_store": _("The same number in two stores"),
    "same_customer": _("One customer with two numbers"),
    "similar_phone": _("The same name with a similar number"),
}
_PHONE_MAX = Lead._meta.get_field("phone").max_length
SIMILAR_MAX_DIGITS = 2


@dataclass
class Pair:
    first: Lead
    second: Lead
    reason: str

    @property
    def reason_label(self) -> str:
        return str(REASONS[self.reason])

    @property
    def leads(self) -> tuple[Lead, Lead]:
        return (self.first, self.second)

    @property
    def same_store(self) -> bool:
        return self.first.store_id == self.second.store_id


def _differing_digits(a: str, b: str) -> str:
    return " + ".join(
        f"(CASE WHEN SUBSTR({a}, {i}, 1) <> SUBSTR({b}, {i}, 1) THEN 1 ELSE 0 END)"
        for i in range(1, _PHONE_MAX + 1)
    )


def _sql(visible_sql: str) -> str:
    lead = Lead._meta.db_table
    customer = Lead._meta.get_field("customer").related_model._meta.db_table
    # Only table names and SUBSTR positions are put in the text; values are
    # parameters (the viewer's scope query brings its own).
    return f"""
        WITH v AS (
            SELECT l.id, l.store_id, l.phone, l.customer_id, c.name, c.has_full_name
            FROM {lead} l JOIN {customer} c ON c.id = l.customer_id
            WHERE l.id IN ({visible_sql}) AND l.status <> %s
        ),
        pairs AS (
            SELECT a.id AS first_id, b.id AS second_id, 'other_store' AS reason
            FROM v a JOIN v b ON b.phone = a.phone AND b.store_id <> a.store_id AND b.id > a.id
            UNION ALL
            SELECT a.id, b.id, 'same_customer'
            FROM v a JOIN v b ON b.customer_id = a.customer_id AND b.id > a.id
                AND b.phone <> a.phone
            UNION ALL
            SELECT a.id, b.id, 'similar_phone'
            FROM v a JOIN v b ON b.store_id = a.store_id AND b.name = a.name AND b.id > a.id
                AND b.customer_id <> a.customer_id AND b.phone <> a.phone
                AND LENGTH(b.phone) = LENGTH(a.phone)
            WHERE a.has_full_name AND ({_differing_digits("a.phone", "b.phone")}) <= %s
        )
    """  # noqa: S608


def candidate_pairs(user, *, offset: int = 0, limit: int = 50) -> tuple[int, list[Pair]]:
    """``(total, pairs)``: one page of the pairs ``user`` may see, newest
    first, with both leads loaded (two queries besides the count)."""
    visible = Lead.objects.visible_to(user).values("id")
    visible_sql, visible_params = visible.query.sql_with_params()
    params = [*visible_params, Status.MERGED, SIMILAR_MAX_DIGITS]
    base = _sql(visible_sql)
    with connection.cursor() as cursor:
        cursor.execute(base + "SELECT COUNT(*) FROM pairs", params)  # noqa: S608
        total = cursor.fetchone()[0]
        cursor.execute(
            base + "SELECT first_id, second_id, reason FROM pairs "  # noqa: S608
            "ORDER BY second_id DESC, first_id DESC, reason LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        rows = cursor.fetchall()
    ids = {pk for first, second, _reason in rows for pk in (first, second)}
    leads = Lead.objects.select_related("customer", "owner", "store").in_bulk(ids)
    return total, [Pair(leads[first], leads[second], reason) for first, second, reason in rows]
