"""Every API operation fuzzed from its own schema (schemathesis).

The schema is read from the app (``/api/v1/schema/`` through the WSGI
application, as an integrator reads it) and each of its operations is called
with generated requests, valid and invalid, as a group administrator and as
an agent (token auth). Each answer must not be a server error, its status
must be one the schema documents, and its body must match the schema.

Most generated ids are replaced by ids of real objects (a store, its staff,
leads with follow-ups, a visit, calls and a recording), so that the requests
reach the services and the serializers of real rows, not only the 404 of a
random number.

Bounded for CI on a small machine: a few examples per operation, a fixed
seed and no example database (the same requests on every run), no shrinking
deadline, no stateful phase. PostgreSQL only: SQLite accepts what
PostgreSQL refuses (over-long text, out-of-range integers and offsets), which
is what this test is for.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dcc.models import Store, Team, User
from dcc.wsgi import application
from followups import services as followup_services
from followups.models import Appointment, Channel, FollowUp, Result
from leads.models import VehicleModel
from telephony.models import Call, CallImport
from tests.telephony.builders import cdr_line, import_lines
from tests.telephony.recording_helpers import add as add_recording
from tests.telephony.recording_helpers import use_media

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# Per operation and caller: some 60 operations twice in a few minutes.
MAX_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# ---------------------------------------------------------------- real objects


@dataclass
class World:
    """Ids of real rows per kind, for generated ids to point at."""

    ids: dict[str, list[int]] = field(default_factory=dict)
    phones: Iterator[int] = field(default_factory=lambda: itertools.count(10_000_000))

    def pick(self, kind: str, generated: int) -> int:
        ids = self.ids.get(kind)
        if not ids or generated < 0:
            return generated
        # One generated id in five stays as generated: a missing object too.
        if generated % 5 == 4:
            return generated
        return ids[generated % len(ids)]


# A path's first segment (after /api/v1/) → the kind of its {id}.
PATH_KINDS = {
    "stores": "store",
    "teams": "team",
    "staff": "staff",
    "vehicle-models": "vehicle_model",
    "leads": "lead",
    "followups": "followup",
    "appointments": "appointment",
    "calls": "call",
    "recordings": "recording",
    "telephony": "cdr_import",
}
# Body and query fields that name an object → its kind.
FIELD_KINDS = {
    "store": "store",
    "team": "team",
    "owner": "staff",
    "owners": "staff",
    "agent": "staff",
    "receiver": "staff",
    "from_staff": "staff",
    "to_staff": "staff",
    "handover_consultant": "staff",
    "intended_model": "vehicle_model",
    "vehicle_model": "vehicle_model",
    "lead": "lead",
    "leads": "lead",
    "other_lead": "lead",
    "call": "call",
}
_FIRST_SEGMENT = re.compile(r"^(?:/api/v1)?/([^/]+)/")


def _real_value(world: World, kind: str, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():  # a path's
        return str(world.pick(kind, int(value)))
    if isinstance(value, int):
        return world.pick(kind, value)
    if isinstance(value, list):
        return [_real_value(world, kind, item) for item in value]
    return value


def _point_at_real_objects(case, world: World) -> None:
    match = _FIRST_SEGMENT.match(case.path)
    kind = PATH_KINDS.get(match.group(1)) if match else None
    if kind and case.path_parameters and "id" in case.path_parameters:
        case.path_parameters["id"] = _real_value(world, kind, case.path_parameters["id"])
    for container in (case.query, case.body):
        if isinstance(container, dict):
            for name, value in list(container.items()):
                if name in FIELD_KINDS:
                    container[name] = _real_value(world, FIELD_KINDS[name], value)
    if isinstance(case.body, dict) and isinstance(case.body.get("phone"), str):
        # A valid new number most of the time, so that the lead's other
        # fields reach the service and the database.
        number = next(world.phones)
        if number % 5:
            case.body["phone"] = f"139{number:08d}"


@pytest.fixture
def world(settings, tmp_path, everyone, make_lead, gl8, store_a, team_a1, team_b1):
    use_media(settings, tmp_path)
    alice, mike = everyone["alice"], everyone["mike"]
    leads = [
        make_lead(mike, phone="13900000001", owner=alice),
        make_lead(mike, phone="13900000002", owner=alice, level="A"),
        make_lead(mike, phone="13900000003", owner=everyone["bob"]),
        make_lead(mike, phone="13900000004"),
        make_lead(everyone["mary"], phone="13900000005", owner=everyone["dave"]),
    ]
    now = timezone.now()
    followup_services.followup_log(
        actor=alice, lead=leads[0], channel=Channel.CALL, result=Result.REACHED
    )
    followup_services.appointment_book(
        actor=alice,
        lead=leads[1],
        scheduled_at=now + timedelta(days=1),
        receiver=everyone["connie"],
    )
    local = timezone.localtime(now - timedelta(hours=1)).replace(microsecond=0, tzinfo=None)
    start, answer = local.isoformat(sep=" "), (local + timedelta(seconds=5)).isoformat(sep=" ")
    end = (local + timedelta(seconds=65)).isoformat(sep=" ")
    import_lines(
        mike,
        store_a,
        cdr_line("8001", "13900000001", start, answer, end, "ANSWERED", "1700000000.1"),
        cdr_line("8002", "13900000003", start, "", end, "NO ANSWER", "1700000000.2"),
    )
    recording = add_recording(mike, store_a, uniqueid="1700000000.1").recording
    return World(
        ids={
            "store": list(Store.objects.values_list("pk", flat=True)),
            "team": list(Team.objects.values_list("pk", flat=True)),
            "staff": list(User.objects.values_list("pk", flat=True)),
            "vehicle_model": list(VehicleModel.objects.values_list("pk", flat=True)),
            "lead": [lead.pk for lead in leads],
            "followup": list(FollowUp.objects.values_list("pk", flat=True)),
            "appointment": list(Appointment.objects.values_list("pk", flat=True)),
            "call": list(Call.objects.values_list("pk", flat=True)),
            "recording": [recording.pk],
            "cdr_import": list(CallImport.objects.values_list("pk", flat=True)),
        }
    )


@pytest.fixture(params=["root", "alice"], ids=["admin", "agent"])
def token(request, everyone):
    user = everyone[request.param]
    return Token.objects.get_or_create(user=user)[0].key


def _read_and_closed(environ, start_response):
    """The app's answer read whole and closed, as a server does (schemathesis's
    WSGI client reads it but leaves a file response's file open)."""
    result = application(environ, start_response)
    try:
        return [b"".join(result)]
    finally:
        result.close()


@pytest.fixture
def wsgi_in_the_test_transaction():
    """The WSGI app closes the database connection after each request (as
    a server should); here the requests run in the test's transaction, so it
    is kept open, as Django's test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield _read_and_closed
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(world, wsgi_in_the_test_transaction):
    return schemathesis.openapi.from_wsgi("/api/v1/schema/", wsgi_in_the_test_transaction)


def _fuzz(operation, token: str, world: World) -> None:
    """One operation: valid and invalid requests, each answer checked."""
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        _point_at_real_objects(case, world)
        case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)

    run()


def test_api_operations(api_schema, token, world):
    """Every operation; the failures reported together, each with the
    request that shows it (a curl command)."""
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, token, world)
        except (Exception, BaseExceptionGroup) as error:  # reported together below
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
