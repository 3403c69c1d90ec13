"""What the benchmarks share: the reference rows they need, the nearest-rank
percentile and the machine's speed reference."""

import math
import statistics
import time

from leads.demo import MODELS
from leads.models import Channel, VehicleModel

# The migrations seed these; an earlier transactional test may have flushed them.
CHANNELS = (("autohome", "汽车之家"), ("bitauto", "易车网"), ("dongchedi", "懂车帝"))


def reference_data() -> None:
    """The demo's vehicle models and the web channels, created if missing."""
    for name, category in MODELS:
        VehicleModel.objects.get_or_create(name=name, defaults={"category": category})
    for code, label in CHANNELS:
        Channel.objects.get_or_create(code=code, defaults={"label": label})


def nearest_rank(samples: list[float], share: float) -> float:
    """The ``share`` percentile of ``samples`` by nearest rank (0.95: p95)."""
    ordered = sorted(samples)
    return ordered[math.ceil(share * len(ordered)) - 1]


def cpu_reference() -> float:
    """How fast this machine runs plain Python (a 10M-iteration loop; about
    0.3 s on a current laptop), so that figures from a slow or busy machine
    can be compared."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def against_floor(label: str, product: list[float], floor: list[float]) -> str:
    """One line: a target's median and p95 beside the floor's, measured in the
    same run, and their ratios (product / floor)."""
    p_med, f_med = statistics.median(product), statistics.median(floor)
    p95, f95 = nearest_rank(product, 0.95), nearest_rank(floor, 0.95)
    return (
        f"{label:<22} median {p_med:6.1f} ms / floor {f_med:5.1f} ms = {p_med / f_med:4.2f}x   "
        f"p95 {p95:6.1f} ms / floor {f95:5.1f} ms = {p95 / f95:4.2f}x"
    )
