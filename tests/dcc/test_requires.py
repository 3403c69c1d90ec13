"""DCC_REQUIRE turns the skip of a test whose need is missing into a failure
(tests/requires.py), so that CI cannot pass with its servers or browser gone."""

import pytest

from tests import requires


class Item:
    """A collected test as far as tests/requires.py reads it: its markers."""

    def __init__(self, *markers):
        self.markers = {name: getattr(pytest.mark, name).mark for name in markers}

    def get_closest_marker(self, name):
        return self.markers.get(name)

    def add_marker(self, decorator):
        self.markers[decorator.mark.name] = decorator.mark


@pytest.fixture
def nothing_available(monkeypatch):
    monkeypatch.setattr(requires, "available", lambda need: False)


def test_required_reads_a_comma_separated_list():
    assert requires.required({}) == frozenset()
    assert requires.required({"DCC_REQUIRE": ""}) == frozenset()
    assert requires.required({"DCC_REQUIRE": " Postgres, redis,,chromium "}) == {
        "postgres",
        "redis",
        "chromium",
    }
    with pytest.raises(pytest.UsageError, match="unknown mysql"):
        requires.required({"DCC_REQUIRE": "postgres,mysql"})


@pytest.mark.parametrize(("need", "marker"), list(requires.MARKERS.items()))
def test_a_missing_need_skips_unless_required(nothing_available, marker, need):
    others = frozenset(requires.NEEDS) - {need}
    for required in (frozenset(), others):
        item = Item(marker)
        requires.mark_skips([item], required_needs=required)
        assert item.get_closest_marker("skip").kwargs["reason"] == requires.REASONS[need]
        requires.fail_required(item, required_needs=required)  # the skip marker skips it

    item = Item(marker)
    requires.mark_skips([item], required_needs=frozenset({need}))
    assert item.get_closest_marker("skip") is None
    with pytest.raises(pytest.fail.Exception, match=f"DCC_REQUIRE requires {need}: not skipped"):
        requires.fail_required(item, required_needs=frozenset({need}))


def test_an_unmarked_test_or_an_available_need_runs(monkeypatch, nothing_available):
    assert requires.missing(Item()) == []
    monkeypatch.setattr(requires, "available", lambda need: True)
    item = Item("postgres", "redis", "e2e")
    assert requires.missing(item) == []
    requires.mark_skips([item], required_needs=frozenset())
    assert item.get_closest_marker("skip") is None


def test_a_session_requiring_a_server_it_is_not_configured_with_does_not_start(
    monkeypatch, nothing_available
):
    requires.check_session(frozenset({"chromium"}))  # per test, not per session
    with pytest.raises(pytest.UsageError, match="DCC_REQUIRE requires postgres"):
        requires.check_session(frozenset({"postgres"}))
    with pytest.raises(pytest.UsageError, match="DCC_REQUIRE requires redis"):
        requires.check_session(frozenset({"redis"}))
    monkeypatch.setattr(requires, "available", lambda need: True)
    requires.check_session(frozenset(requires.NEEDS))


def test_availability_follows_the_configuration(settings, monkeypatch, tmp_path):
    from django.db import connection

    assert requires.available("postgres") == (connection.vendor == "postgresql")
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    assert requires.available("redis")
    settings.CELERY_BROKER_URL = "filesystem://"
    assert not requires.available("redis")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "chromium"))
    assert not requires.available("chromium")
    (tmp_path / "chromium").touch()
    assert requires.available("chromium")
