"""Benchmark: importing 10,000 web leads from Excel (`make bench`).

A measurement, not a test of speed: it prints the median and p95 of five
imports of fresh 10,000-row files (parsing, validation, lookups and the bulk
inserts with their history rows) and asserts only that every row was created.
"""

import io
import math
import random
import statistics
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from openpyxl import Workbook

from leads import importer
from leads.models import Channel, Lead
from tests.bench.common import cpu_reference
from tests.factories import VehicleModelFactory

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True)]

ROWS = 10_000
RUNS = 5
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建国志华文博子涵浩然欣怡"
PREFIXES = ("138", "139", "186", "150", "177", "135", "158", "189")
MODELS = ("昂科威", "GL8", "君越", "英朗", "威朗", "凯越")


def _workbook(run: int, channels: list[str], owners: list[str], rng: random.Random) -> bytes:
    """A filled-in template of ROWS leads; phones unique across runs."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(importer.SHEET_TITLE)
    sheet.append([column.header for column in importer.COLUMNS])
    now = timezone.localtime()
    for i in range(ROWS):
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
        phone = f"{PREFIXES[i % len(PREFIXES)]}{run}{i:07d}"
        received = now - timedelta(days=rng.randint(0, 30), minutes=rng.randint(1, 600))
        sheet.append(
            [
                name,
                int(phone) if i % 3 == 0 else phone,  # number cells, as Excel stores them
                "web",
                rng.choice(channels),
                rng.choice(MODELS),
                rng.choice("HABC"),
                received.replace(tzinfo=None) if i % 2 else received.strftime("%Y-%m-%d %H:%M"),
                None,
                rng.choice(owners) if i % 4 == 0 else None,
                "网络留资" if i % 5 == 0 else None,
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_import_10000_rows(mike, alice, bob, carol, request):
    for name in MODELS:
        VehicleModelFactory(name=name)
    channels = [*Channel.objects.values_list("code", flat=True), "汽车之家", "懂车帝"]
    rng = random.Random(20250301)
    files = [_workbook(run, channels, ["alice", "bob", "carol"], rng) for run in range(RUNS)]

    seconds, cpu = [], []
    for content in files:
        started, started_cpu = time.perf_counter(), time.process_time()
        result = importer.lead_import(actor=mike, file=io.BytesIO(content), filename="bench.xlsx")
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert (result.created, result.duplicate_count, result.errors) == (ROWS, 0, [])
    assert Lead.objects.count() == ROWS * RUNS

    reference = cpu_reference()
    ordered = sorted(seconds)
    median = statistics.median(ordered)
    p95 = ordered[math.ceil(0.95 * len(ordered)) - 1]  # nearest rank
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    reporter.write_line("")
    reporter.write_line(
        f"import {ROWS} rows ({connection.vendor}, {RUNS} runs): median {median:.2f} s, "
        f"p95 {p95:.2f} s ({ROWS / median:.0f} rows/s); "
        f"runs: {', '.join(f'{s:.2f}' for s in seconds)}"
    )
    # The rest of the wall time is the database's and waiting for a CPU.
    reporter.write_line(
        f"of which Python (this process's CPU time): median {statistics.median(cpu):.2f} s"
    )
    reporter.write_line(
        f"machine reference: a 10M-iteration Python loop takes {reference:.2f} s here "
        "(about 0.3 s on a current laptop; scale the figures above accordingly)"
    )
