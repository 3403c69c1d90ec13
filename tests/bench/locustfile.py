"""The load test's users (run by tests/bench/test_load_bench.py, never on its
own): a DCC's agents and supervisors working through the real pages, and
the stepped shape that finds the box's capacity.

Think times (assumed): an agent on the phone makes one request every 10-30 s
(20 s on average): a call of two to three minutes costs the queue, the work
panel, the logged result and now and then the lead page or the visits. A
supervisor looks at the team's health, the breaches or the dashboard every
20-40 s. One supervisor to twenty agents, as in the stores' teams.

The shape: a shift-start login storm first (100 agents logging in within a
minute, measured on its own), then steps of STEP users, each ramped up
(unmeasured) and then measured for MEASURE seconds with the statistics
reset, until the queue's p95 passes 200 ms, a request fails or MAX_USERS is
reached. Each finished window is written to DCC_LOAD_RESULTS (JSON)."""

import itertools
import json
import os
import random
import re
from pathlib import Path

from locust import HttpUser, LoadTestShape, between, task

PEOPLE = json.loads(Path(os.environ["DCC_LOAD_PEOPLE"]).read_text())
RESULTS = Path(os.environ["DCC_LOAD_RESULTS"])
STORM_USERS, STORM_SECONDS, STORM_WAIT = 100, 60, 90
STEP = int(os.environ.get("DCC_LOAD_STEP", "100"))
# A step's 100 new users log in during its ramp (25 core-seconds of PBKDF2):
# the ramp is long enough that the backlog is gone before the window opens.
RAMP = int(os.environ.get("DCC_LOAD_RAMP", "40"))
MEASURE = int(os.environ.get("DCC_LOAD_MEASURE", "30"))
MAX_USERS = int(os.environ.get("DCC_LOAD_MAX_USERS", "700"))
QUEUE_P95_LIMIT = 200  # ms

ROW = re.compile(r'hx-get="/followups/queue/([a-z]+)-(\d+)/"')
_agents = itertools.cycle(PEOPLE["agents"])
_supervisors = itertools.cycle(PEOPLE["supervisors"])


class _Staff(HttpUser):
    abstract = True
    people = None

    def on_start(self):
        self.username = next(self.people)
        self.client.get("/accounts/login/", name="login page")
        with self.client.post(
            "/accounts/login/",
            {
                "username": self.username,
                "password": PEOPLE["password"],
                "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", ""),
            },
            name="login",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login of {self.username}: {response.status_code}")


class Agent(_Staff):
    weight = 20
    wait_time = between(10, 30)
    people = _agents
    rows: list = []

    def on_start(self):
        super().on_start()
        self.queue()

    @task(4)
    def queue(self):
        response = self.client.get("/", name="queue")
        self.rows = ROW.findall(response.text)[:20]
        # What the page fetches as it loads: goals, callbacks, campaign calls.
        self.client.get(
            "/followups/desk-extras/", headers={"HX-Request": "true"}, name="desk extras"
        )

    @task(3)
    def work_panel(self):
        if self.rows:
            kind, pk = random.choice(self.rows)
            self.client.get(
                f"/followups/queue/{kind}-{pk}/", headers={"HX-Request": "true"}, name="work panel"
            )

    @task(2)
    def log_result(self):
        leads = [pk for kind, pk in self.rows if kind != "confirm"]
        if not leads:
            return
        with self.client.post(
            f"/api/v1/leads/{random.choice(leads)}/followups/",
            json={"channel": "call", "result": "no_answer", "note": "load test"},
            headers={"X-CSRFToken": self.client.cookies.get("csrftoken", "")},
            name="log result",
            catch_response=True,
        ) as response:
            # 409: the lead's state forbids it (e.g. a defeat awaiting approval): an answer.
            if response.status_code in (201, 409):
                response.success()
            else:
                response.failure(f"log result: {response.status_code}")

    @task(2)
    def lead_page(self):
        leads = [pk for kind, pk in self.rows if kind != "confirm"]
        if leads:
            self.client.get(f"/leads/{random.choice(leads)}/", name="lead page")

    @task(1)
    def visits(self):
        self.client.get("/followups/appointments/", name="visits")


class Supervisor(_Staff):
    weight = 1
    wait_time = between(20, 40)
    people = _supervisors

    @task(3)
    def team_health(self):
        self.client.get("/", name="team health")

    @task(2)
    def breaches(self):
        self.client.get("/followups/breaches/", name="breaches")

    @task(1)
    def dashboard(self):
        self.client.get("/kpi/", name="dashboard")


def _window(stats, label: str, users: int, agents: int, seconds: float) -> dict:
    def figures(entry):
        return {
            "n": entry.num_requests,
            "failures": entry.num_failures,
            "median": entry.get_response_time_percentile(0.5),
            "p95": entry.get_response_time_percentile(0.95),
        }

    names = sorted({name for name, _method in stats.entries})
    return {
        "label": label,
        "users": users,
        "agents": agents,
        "seconds": round(seconds, 1),
        "rps": round(stats.total.num_requests / seconds, 1) if seconds else 0,
        "total": figures(stats.total),
        "by_name": {
            name: figures(entry)
            for name in names
            for entry in [stats.entries.get((name, "GET")) or stats.entries.get((name, "POST"))]
            if entry is not None
        },
    }


class Steps(LoadTestShape):
    """The storm, then step after step (see the module's docstring)."""

    def __init__(self):
        super().__init__()
        phases = [("storm", STORM_USERS, STORM_USERS / STORM_SECONDS, STORM_SECONDS)]
        phases.append(("step", STORM_USERS, 1, MEASURE))
        users = STORM_USERS
        while users + STEP <= MAX_USERS:
            users += STEP
            phases += [("ramp", users, STEP / RAMP, RAMP), ("step", users, 1, MEASURE)]
        self.phases, self.index, self.started = phases, 0, 0.0
        self.results: list[dict] = []

    def _finish(self, kind: str, users: int, seconds: float) -> bool:
        """Record the window just ended; False when the load test should stop."""
        if kind not in ("storm", "step"):
            return True
        counts = self.runner.user_classes_count
        window = _window(self.runner.stats, kind, users, counts.get("Agent", 0), seconds)
        self.results.append(window)
        RESULTS.write_text(json.dumps(self.results, indent=1))
        if kind == "storm":
            return True
        queue = window["by_name"].get("queue", {"p95": 0})
        return queue["p95"] <= QUEUE_P95_LIMIT and window["total"]["failures"] == 0

    def _storm_pending(self, elapsed: float) -> bool:
        """The storm's window lasts until its agents have all logged in (at
        most STORM_WAIT more seconds): a slow login still counts."""
        login = self.runner.stats.entries.get(("login", "POST"))
        done = login.num_requests if login else 0
        return done < STORM_USERS and elapsed < STORM_SECONDS + STORM_WAIT

    def tick(self):
        now = self.get_run_time()
        kind, users, rate, duration = self.phases[self.index]
        if now - self.started >= duration and not (
            kind == "storm" and self._storm_pending(now - self.started)
        ):
            if not self._finish(kind, users, now - self.started):
                return None
            self.index += 1
            if self.index == len(self.phases):
                return None
            self.started = now
            kind, users, rate, duration = self.phases[self.index]
            if kind == "step":
                self.runner.stats.reset_all()
        return users, rate
