"""Per-transaction PostgreSQL settings: ``pg_settings(jit="off", work_mem="64MB")``.

Inside a transaction (``transaction.atomic()``), on PostgreSQL, each setting
is made with ``set_config(name, value, true)`` (``SET LOCAL``: it ends with
the transaction); the values are query parameters, never formatted into SQL.
On other databases it does nothing::

    from dcc.pgsettings import pg_settings

    with transaction.atomic(), pg_settings(jit="off", work_mem="64MB"):
        ...
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connection


@contextmanager
def pg_settings(**settings):
    if settings and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for name, value in settings.items():
                cursor.execute("SELECT set_config(%s, %s, true)", [name, str(value)])
    yield
