"""Load test of a whole DCC (`make bench`, never `make test`): the real
server (gunicorn with the Dockerfile's options, the production settings over
plain HTTP: tests/bench/load_settings.py) against PostgreSQL, driven by
locust (tests/bench/locustfile.py) in a subprocess, headless and bounded.

The data: the queue benchmark's organisation grown to 25 teams (500 agents
and outbound callers, 25 supervisors) with its leads, follow-ups and
appointments (``BENCH_SCALE`` of 100,000 open leads / 1,000,000 follow-ups;
0.25 unless set, to stay within a few minutes), every password hashed with
the production hasher (PBKDF2, Django's iterations) as in a real store.

What it prints: the login storm (100 agents within a minute: login p95, the
target under 2 s), then each step's users and agents, requests per second,
the queue's median and p95, every request's p95 and the failures; and the
box's capacity: the most agents at which the queue's p95 stayed under
200 ms with no failed request. A measurement, not a timed test: it asserts
only facts (the server answered, the storm's logins were recorded)."""

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.utils import timezone

from dcc.models import User
from dcc.roles import Role
from tests.bench import test_queue_bench as queue_bench
from tests.bench.common import cpu_reference

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SCALE = float(os.environ.get("BENCH_SCALE", "0.25"))
# 25 teams of 20: 500 agents and callers in two stores.
STORES = (("BQ1", "上海浦东别克4S店", "021", 20), ("BQ2", "苏州园区别克4S店", "0512", 5))
PASSWORD = "load-test-only"
PORT = int(os.environ.get("DCC_LOAD_PORT", "8765"))
HARD_LIMIT = 15 * 60  # seconds: the load test never runs longer


def dockerfile_gunicorn() -> list[str]:
    """The gunicorn options of the Dockerfile's CMD (the bind left out)."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            args = json.loads(line[4:])
            break
    assert args[0] == "gunicorn", args
    options, skip = [], False
    for arg in args[2:]:
        if skip:
            skip = False
        elif arg == "--bind":
            skip = True
        else:
            options.append(arg)
    return options


def _load_data():
    patches = {
        "STORES": STORES,
        "OPEN_LEADS": round(100_000 * SCALE),
        "CLOSED_LEADS": round(20_000 * SCALE),
        "FOLLOWUPS": round(1_000_000 * SCALE),
        "BOOK": 400,
    }
    with mock.patch.multiple(queue_bench, **patches):
        volume = queue_bench.Volume(queue_bench.random.Random(20250302), timezone.now())
        volume.load()
    # The production hasher at its full cost, once (the same hash for every
    # user: a throwaway database); the test settings' MD5 would make logins free.
    hasher = PBKDF2PasswordHasher()
    User.objects.update(password=hasher.encode(PASSWORD, hasher.salt()))
    return volume


def _wait_for(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn exited"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def _figures(entry: dict | None) -> str:
    if not entry:
        return "—"
    return f"{entry['median']:>5.0f} / {entry['p95']:>5.0f} ms (n={entry['n']})"


def test_load_of_a_whole_dcc(request, tmp_path):
    write = request.config.pluginmanager.get_plugin("terminalreporter").write_line
    started = time.perf_counter()
    volume = _load_data()
    write("")
    write(f"load test: data generated in {time.perf_counter() - started:.0f} s (scale {SCALE})")
    for name, seconds, rows in volume.phases:
        write(f"  {name:<40} {rows:>9,} rows  {seconds:6.1f} s")

    agents = list(
        User.objects.filter(role__in=(Role.AGENT, Role.CALLER)).values_list("username", flat=True)
    )
    supervisors = list(User.objects.filter(role=Role.SUPERVISOR).values_list("username", flat=True))
    people = tmp_path / "people.json"
    people.write_text(
        json.dumps({"agents": agents, "supervisors": supervisors, "password": PASSWORD})
    )
    results = tmp_path / "results.json"

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.bench.load_settings",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "SECRET_KEY": "load-test-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "PYTHONPATH": str(ROOT),
    }
    options = dockerfile_gunicorn()
    host = f"http://127.0.0.1:{PORT}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "dcc.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            *options,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"{host}/healthz", server)
        write(f"gunicorn {shlex.join(options)} (the Dockerfile's), production settings")
        locust = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(ROOT / "tests" / "bench" / "locustfile.py"),
                "--headless",
                "--host",
                host,
                "--only-summary",
                "--stop-timeout",
                "5",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env={**env, "DCC_LOAD_PEOPLE": str(people), "DCC_LOAD_RESULTS": str(results)},
            capture_output=True,
            text=True,
            timeout=HARD_LIMIT,
            check=False,
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    assert results.exists(), locust.stderr[-3000:]
    windows = json.loads(results.read_text())

    storm = windows[0]
    login = storm["by_name"].get("login")
    assert storm["label"] == "storm"
    assert login is not None
    write(
        f"login storm: {login['n']} agents logging in over a minute (window "
        f"{storm['seconds']:.0f} s): login median {login['median']:.0f} ms, "
        f"p95 {login['p95']:.0f} ms (target < 2000 ms), {login['failures']} failed"
    )
    write("")
    write(
        f"{'users':>5} {'agents':>6} {'req/s':>6}  {'queue median / p95':<24} "
        f"{'lead page':<24} {'work panel':<24} {'all p95':>7} {'failed':>6}"
    )
    capacity = 0
    for window in windows[1:]:
        by_name = window["by_name"]
        queue = by_name.get("queue")
        write(
            f"{window['users']:>5} {window['agents']:>6} {window['rps']:>6}  "
            f"{_figures(queue):<24} {_figures(by_name.get('lead page')):<24} "
            f"{_figures(by_name.get('work panel')):<24} {window['total']['p95']:>5.0f} ms "
            f"{window['total']['failures']:>6}"
        )
        if queue and queue["p95"] <= 200 and window["total"]["failures"] == 0:
            capacity = max(capacity, window["agents"])
    last = windows[-1]
    for name, entry in sorted(last["by_name"].items()):
        write(f"  last step, {name:<12} {_figures(entry)}  failed {entry['failures']}")
    write("")
    write(
        f"capacity of this box: {capacity} agents (and their supervisors) with the queue's "
        f"p95 under 200 ms and no failed request; goal 500"
    )
    load = os.getloadavg()
    write(
        f"machine reference: a 10M-iteration Python loop takes {cpu_reference():.2f} s here; "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs"
    )
