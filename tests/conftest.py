"""Personas (healthchecks' alice/bob/charlie, in a dealership).

Store A has team A1 (agent ``alice`` and ``bob``, supervisor ``sue``) and team
A2 (agent ``carol``); ``mike`` manages store A, ``connie`` is a showroom
consultant there. Store B has its own manager ``mary`` and agent ``dave``.
``root`` is a group administrator over every store.
"""

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from dcc.roles import Role
from leads.models import Channel, DefeatReason, Source
from leads.services import lead_create
from tests import requires
from tests.factories import StaffFactory, StoreFactory, TeamFactory, VehicleModelFactory

# ---------------------------------------------------------------- needs (tests/requires.py)


def pytest_sessionstart(session):
    requires.check_session(requires.required())


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked postgres, redis or e2e that this run cannot serve…"""
    requires.mark_skips(items, required_needs=requires.required())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """…or fail them, before their fixtures, where DCC_REQUIRE requires the need."""
    requires.fail_required(item, required_needs=requires.required())


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """The API throttles count in the cache: every test starts from none."""
    cache.clear()


@pytest.fixture
def store_a(db):
    return StoreFactory(code="A01", name="浦东店")


@pytest.fixture
def store_b(db):
    return StoreFactory(code="B01", name="苏州店")


@pytest.fixture
def team_a1(store_a):
    return TeamFactory(store=store_a, name="一组")


@pytest.fixture
def team_a2(store_a):
    return TeamFactory(store=store_a, name="二组")


@pytest.fixture
def team_b1(store_b):
    return TeamFactory(store=store_b, name="苏州组")


@pytest.fixture
def alice(store_a, team_a1):
    return StaffFactory(
        username="alice", role=Role.AGENT, store=store_a, team=team_a1, extension="8001"
    )


@pytest.fixture
def bob(store_a, team_a1):
    return StaffFactory(
        username="bob", role=Role.AGENT, store=store_a, team=team_a1, extension="8002"
    )


@pytest.fixture
def carol(store_a, team_a2):
    return StaffFactory(
        username="carol", role=Role.CALLER, store=store_a, team=team_a2, extension="8003"
    )


@pytest.fixture
def sue(store_a, team_a1):
    return StaffFactory(username="sue", role=Role.SUPERVISOR, store=store_a, team=team_a1)


@pytest.fixture
def mike(store_a):
    return StaffFactory(username="mike", role=Role.MANAGER, store=store_a)


@pytest.fixture
def connie(store_a):
    return StaffFactory(username="connie", role=Role.CONSULTANT, store=store_a)


@pytest.fixture
def mary(store_b):
    return StaffFactory(username="mary", role=Role.MANAGER, store=store_b)


@pytest.fixture
def dave(store_b, team_b1):
    return StaffFactory(
        username="dave", role=Role.AGENT, store=store_b, team=team_b1, extension="6001"
    )


@pytest.fixture
def root(db):
    return StaffFactory(
        username="root", role=Role.ADMIN, store=None, is_staff=True, is_superuser=True
    )


@pytest.fixture
def everyone(alice, bob, carol, sue, mike, connie, mary, dave, root):
    return {u.username: u for u in (alice, bob, carol, sue, mike, connie, mary, dave, root)}


@pytest.fixture
def api():
    """``api(user)``: a DRF client authenticated with ``user``'s token (or anonymous)."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def web(client):
    """``web(user)``: Django's test client signed in as ``user``."""

    def make(user):
        client.force_login(user)
        return client

    return make


# ---------------------------------------------------------------- leads


@pytest.fixture
def envision(db):
    return VehicleModelFactory(name="昂科威", category="SUV")


@pytest.fixture
def gl8(db):
    return VehicleModelFactory(name="GL8", category="MPV")


@pytest.fixture
def autohome(db):
    return Channel.objects.get(code="autohome")


@pytest.fixture
def price_reason(db):
    # Seeded by a migration; a transactional (browser) test before may have
    # flushed it.
    reason, _created = DefeatReason.objects.get_or_create(
        code="price", store=None, defaults={"label": "价格原因"}
    )
    return reason


@pytest.fixture
def make_lead(store_a, envision):
    """``make_lead(actor, phone=…, **fields)`` through the real service."""
    counter = iter(range(10_000_000, 99_999_999))

    def make(actor, *, phone=None, store=None, **fields):
        fields.setdefault("name", "王小明")
        fields.setdefault("source", Source.WEB)
        fields.setdefault("intended_model", envision)
        return lead_create(
            actor=actor,
            store=store or actor.store or store_a,
            phone=phone or f"139{next(counter)}",
            **fields,
        )

    return make
