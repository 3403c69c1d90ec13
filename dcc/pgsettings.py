"""PostgreSQL settings for the statements of one transaction.

``pg_settings(jit="off", work_mem="64MB", statement_timeout="30s")`` runs
``set_config(name, value, true)`` (``SET LOCAL``, with the names and values
as parameters) for each setting inside the current transaction, so they end
with it; on any other database it does nothing. Use it inside a
transaction::

    with transaction.atomic(), pg_settings(jit="off", work_mem="64MB"):
        ...
"""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def pg_settings(**settings):
    if connection.vendor == "postgresql" and settings:
        names = list(settings)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(names)),
                [part for name in names for part in (name, str(settings[name]))],
            )
    yield
