import pytest

from leads.models import Channel, DefeatReason, Source
from leads.services import lead_create
from tests.factories import VehicleModelFactory


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
    return DefeatReason.objects.get(code="price", store=None)


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
