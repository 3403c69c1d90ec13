"""``drilldown``: the rows behind one numerator or denominator."""

from __future__ import annotations

from kpi.metrics.base import Period, Scope
from kpi.metrics.table import KPIS, PARTS

# ---------------------------------------------------------------- drill-down


def drilldown(scope: Scope, period: Period, name: str, part: str):
    """The rows behind one figure: its ``count()`` is that figure (for the
    meetings figure, which counts days, the period's meetings: on time for
    the numerator, all for the denominator). LookupError for a figure or part
    without rows."""
    if name not in KPIS or part not in PARTS:
        raise LookupError(f"no figure {name}.{part}")
    return KPIS[name].drilldown(scope, period, part)


def has_rows(name: str, part: str) -> bool:
    return name in KPIS and part in PARTS and KPIS[name].rows[PARTS.index(part)] is not None
