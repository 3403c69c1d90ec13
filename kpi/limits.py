"""A time limit for the report queries, so that no KPI page, export or API
call holds the database for minutes.

``limit_report_queries`` runs a view (or any function) in a transaction
with the report settings (``dcc.pgsettings.pg_settings``: ``SET LOCAL``):
PostgreSQL cancels a statement after ``KPI_STATEMENT_TIMEOUT``, JIT is off
(compiling a big aggregate took 1.5 of the 1.6 s of a 12-month query) and
``work_mem`` is ``KPI_WORK_MEM`` (so the grouped sorts do not spill to
disk). A cancelled statement becomes ``ReportTimedOut``, which DRF answers
as a 503 with a ``detail``. ``report_page`` does the same for a page and answers the
503 with a page that says what happened and what to try. On SQLite (the
embedded default) both only call the view.
"""

import functools
from contextlib import contextmanager

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import APIException

from dcc.pgsettings import pg_settings

# PostgreSQL's SQLSTATE for a statement cancelled (here: by statement_timeout).
QUERY_CANCELED = "57014"


class ReportTimedOut(APIException):
    status_code = 503
    default_detail = _(
        "This report took longer than the time allowed and was stopped. "
        "Choose a shorter period or a smaller scope, or try again later."
    )
    default_code = "report_timed_out"


def report_settings() -> dict[str, str]:
    """The PostgreSQL settings every report query runs with."""
    return {
        "jit": "off",
        "work_mem": settings.KPI_WORK_MEM,
        "statement_timeout": str(int(settings.KPI_STATEMENT_TIMEOUT.total_seconds() * 1000)),
    }


@contextmanager
def statement_timeout():
    """Within the block, the report settings hold: PostgreSQL cancels any
    statement running longer than KPI_STATEMENT_TIMEOUT (0: no limit),
    raising ReportTimedOut."""
    if connection.vendor != "postgresql":
        yield
        return
    nested = connection.in_atomic_block
    names = list(report_settings())
    try:
        with transaction.atomic(), pg_settings(**report_settings()):
            yield
    except OperationalError as exc:
        if getattr(exc.__cause__, "pgcode", None) == QUERY_CANCELED:
            raise ReportTimedOut from exc
        raise
    finally:
        # SET LOCAL lasts to the end of the outermost transaction: inside a
        # caller's own transaction, give back the usual settings.
        if nested and not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config(name, reset_val, true) FROM pg_settings"
                    " WHERE name = ANY(%s)",
                    [names],
                )


def limit_report_queries(fn):
    """Decorator: ``fn`` runs under ``statement_timeout`` (API views' methods)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with statement_timeout():
            return fn(*args, **kwargs)

    return wrapper


def report_page(view):
    """Decorator for a page: ``limit_report_queries``, and a timed-out report
    answers 503 with an explanation instead of a server error."""
    limited = limit_report_queries(view)

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return limited(request, *args, **kwargs)
        except ReportTimedOut as exc:
            return render(
                request, "kpi/timed_out.html", {"message": exc.detail}, status=exc.status_code
            )

    return wrapper
