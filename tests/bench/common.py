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


def uninstrumented_render(self, context):
    """``Template._render`` as in production. The test environment wraps it
    to send a signal on which the test client copies the context of every
    template rendered, which no server pays: benchmarks of pages patch it
    back (``monkeypatch.setattr(Template, "_render", uninstrumented_render)``)."""
    return self.nodelist.render(context)


def ratio_line(label: str, product: list[float], floor: list[float], unit: str = "ms") -> str:
    """One figure as the benchmarks print it: product and floor (median, p95)
    measured in the same run, and their ratios."""

    pm, pp = statistics.median(product), nearest_rank(product, 0.95)
    fm, fp = statistics.median(floor), nearest_rank(floor, 0.95)
    return (
        f"{label:<34} product median {pm:8.1f} {unit} p95 {pp:8.1f} {unit} | "
        f"floor median {fm:8.1f} {unit} p95 {fp:8.1f} {unit} | "
        f"ratio median {pm / fm:5.2f}x p95 {pp / fp:5.2f}x (n={len(product)})"
    )
