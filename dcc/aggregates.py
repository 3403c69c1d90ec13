"""SQL aggregates Django does not ship.

``Percentile`` is PostgreSQL's ``percentile_cont(f) WITHIN GROUP (ORDER BY
expr)``. SQLite (the embedded development default) has no ordered-set
aggregates; ``percentiles`` computes the same interpolated value there from
the grouped values, so a page works on both while production asks the
database.
"""

from __future__ import annotations

import math
from collections import defaultdict

from django.db import connection
from django.db.models import Aggregate, FloatField


class Percentile(Aggregate):
    function = "percentile_cont"
    name = "Percentile"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, fraction=float(fraction), **extra)


def supports_percentile() -> bool:
    return connection.vendor == "postgresql"


def interpolated(values: list[float], fraction: float) -> float | None:
    """percentile_cont over an already sorted list (the SQLite path)."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


def percentiles(queryset, *, group: str, value: str, fractions: dict[str, float]) -> dict:
    """``{group value: {name: percentile}}`` for ``queryset``, grouped by the
    field ``group`` over the non-null ``value``: one query either way."""
    rows = queryset.filter(**{f"{value}__isnull": False})
    if supports_percentile():
        annotations = {name: Percentile(value, f) for name, f in fractions.items()}
        result = rows.values(group).annotate(**annotations).order_by()
        return {row[group]: {name: row[name] for name in fractions} for row in result}
    grouped: dict = defaultdict(list)
    for key, number in rows.order_by(group, value).values_list(group, value):
        grouped[key].append(number)
    return {
        key: {name: interpolated(numbers, f) for name, f in fractions.items()}
        for key, numbers in grouped.items()
    }
