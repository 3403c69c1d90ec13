"""Report queries are held to KPI_STATEMENT_TIMEOUT on PostgreSQL (kpi.limits):
the limit is in force inside the KPI views, a statement past it is cancelled,
and the caller gets a clear 503 rather than a server error."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import RequestFactory
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from kpi.limits import ReportTimedOut, limit_report_queries, report_page, statement_timeout

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _show():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def _sleep(seconds):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [seconds])


def test_the_limit_holds_inside_the_block_only(settings):
    settings.KPI_STATEMENT_TIMEOUT = timedelta(seconds=30)
    before = _show()
    with statement_timeout():
        assert _show() == "30s"
    assert _show() == before


def test_report_queries_run_without_jit_and_with_enough_work_mem(settings):
    settings.KPI_WORK_MEM = "48MB"
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        jit_before = cursor.fetchone()[0]
    with statement_timeout(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit'), current_setting('work_mem')")
        assert cursor.fetchone() == ("off", "48MB")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == jit_before


def test_a_statement_past_the_limit_is_cancelled(settings):
    settings.KPI_STATEMENT_TIMEOUT = timedelta(milliseconds=200)
    with pytest.raises(ReportTimedOut), statement_timeout():
        _sleep(5)
    # The surrounding transaction goes on, without the limit.
    assert _show() != "200ms"
    _sleep(0.3)


def test_a_timed_out_page_answers_503_with_an_explanation(settings, rf: RequestFactory, mike):
    settings.KPI_STATEMENT_TIMEOUT = timedelta(milliseconds=200)

    @report_page
    def slow_page(request):
        _sleep(5)

    request = rf.get("/kpi/")
    request.user = mike
    response = slow_page(request)
    assert response.status_code == 503
    assert b'data-testid="report-timed-out"' in response.content


def test_a_timed_out_api_call_answers_503_json(settings, mike):
    settings.KPI_STATEMENT_TIMEOUT = timedelta(milliseconds=200)

    class SlowView(APIView):
        @limit_report_queries
        def get(self, request):
            _sleep(5)

    request = APIRequestFactory().get("/api/v1/kpi/")
    force_authenticate(request, user=mike)
    response = SlowView.as_view()(request)
    assert response.status_code == 503
    assert "detail" in response.data


def _statements_of(client_call):
    seen = []

    def record(execute, sql, params, many, context):
        # The settings are parameters (dcc.pgsettings: set_config(%s, %s, true)).
        seen.append(f"{sql} {params!r}")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client_call()
    return response, seen


@pytest.mark.parametrize(
    ("username", "url"),
    [
        ("mike", "/kpi/"),
        ("mike", "/kpi/dashboard/"),
        ("sue", "/kpi/scorecard/"),
        ("mike", "/kpi/exports/"),
        ("mike", "/kpi/export/?month=2026-10"),
    ],
)
def test_kpi_pages_run_under_the_limit(web, everyone, username, url):
    response, statements = _statements_of(lambda: web(everyone[username]).get(url))
    assert response.status_code == 200, url
    assert any("statement_timeout" in sql for sql in statements), url


@pytest.mark.parametrize("url", ["/api/v1/kpi/", "/api/v1/kpi/export/?month=2026-10"])
def test_kpi_api_runs_under_the_limit(api, mike, url):
    response, statements = _statements_of(lambda: api(mike).get(url))
    assert response.status_code == 200, url
    assert any("statement_timeout" in sql for sql in statements), url
