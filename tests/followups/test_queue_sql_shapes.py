"""The queue's SQL is compiled once per shape and filled in per request
(followups.selectors._Shape): what a request runs must be exactly what
compiling its own values would give, on either database, whatever the
number of visits to confirm."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from followups import selectors

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


def _inputs(visits: int, owner: int = 42) -> selectors._Inputs:
    return selectors._Inputs(
        owner=owner,
        soon=NOW + timedelta(hours=4),
        today=datetime(2026, 3, 1, 16, tzinfo=UTC),
        tomorrow=datetime(2026, 3, 2, 16, tzinfo=UTC),
        retry_before=NOW - timedelta(hours=2),
        visits=tuple(
            (1000 + i, datetime(2026, 3, 3, 1, 15, tzinfo=UTC) + timedelta(minutes=7 * i))
            for i in range(visits)
        ),
    )


@pytest.mark.parametrize("visits", [0, 1, 3])
def test_a_filled_shape_is_the_queues_own_compiled_sql(visits):
    shape = selectors._compiled(connection.alias, visits)
    assert shape.sql is not None, "every stand-in value was found among the parameters"
    for owner in (42, 7):  # the same shape serves every agent
        inputs = _inputs(visits, owner)
        assert shape.fill(inputs) == selectors._compile(inputs, connection.alias)


def test_no_stand_in_value_is_left_in_a_filled_queue():
    shape = selectors._compiled(connection.alias, 2)
    filled = shape.fill(_inputs(2))
    params = [p for name, v in filled.items() if name != "wheres" for p in v[1]]
    params += [p for _sql, where_params in filled["wheres"] for p in where_params]
    stand_ins = set(selectors._stand_in(2).slots().values())
    adapt = connection.ops.adapt_datetimefield_value
    stand_ins |= {adapt(v) for v in stand_ins if isinstance(v, datetime)}
    assert not [p for p in params if isinstance(p, int | str | datetime) and p in stand_ins]
