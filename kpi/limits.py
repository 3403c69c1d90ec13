"""A time limit for the report queries, so that no KPI page, export or API
call holds the database for minutes.

``limit_report_queries`` runs a view (or any function) in a transaction
whose statements PostgreSQL cancels after ``KPI_STATEMENT_TIMEOUT``
(``SET LOCAL statement_timeout``, like ``kpi.metrics.base.without_jit``); a
cancelled statement becomes ``ReportTimedOut``, which DRF answers as a 503
with a ``detail``. ``report_page`` does the same for a page and answers the
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

# PostgreSQL's SQLSTATE for a statement cancelled (here: by statement_timeout).
QUERY_CANCELED = "57014"


class ReportTimedOut(APIException):
    status_code = 503
    default_detail = _(
        "This report took longer than the time allowed and was stopped. "
        "Choose a shorter period or a smaller scope, or try again later."
    )
    default_code = "report_timed_out"


def _timeout_ms() -> int:
    return int(settings.KPI_STATEMENT_TIMEOUT.total_seconds() * 1000)


@contextmanager
def statement_timeout():
    """Within the block, PostgreSQL cancels any statement running longer
    than KPI_STATEMENT_TIMEOUT (0: no limit), raising ReportTimedOut."""
    if connection.vendor != "postgresql":
        yield
        return
    nested = connection.in_atomic_block
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = %s", [_timeout_ms()])
            yield
    except OperationalError as exc:
        if getattr(exc.__cause__, "pgcode", None) == QUERY_CANCELED:
            raise ReportTimedOut from exc
        raise
    finally:
        # SET LOCAL lasts to the end of the outermost transaction: inside a
        # caller's own transaction, give back the usual limit.
        if nested and not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout TO DEFAULT")


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
