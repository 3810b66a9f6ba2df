"""Shared pieces of benchmark scenarios: percentiles, the result object of DESIGN.md, and
a cache directory for generated data."""

import operator
import os
import statistics
from pathlib import Path

from django.conf import settings
from django.db import connection

_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


def cache_dir(*parts: str) -> Path:
    path = Path(os.environ.get("QUNLI_BENCH_DIR", settings.DATA_DIR / "bench")).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def percentile(samples: list[float], pct: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latency_metrics(samples_ms: list[float], prefix: str = "") -> dict:
    return {f"{prefix}p95_ms": round(percentile(samples_ms, 95), 3),
            f"{prefix}p50_ms": round(statistics.median(samples_ms), 3) if samples_ms else None}


def result(scenario: str, scale: str, metrics: dict, peers: dict, targets: dict[str, str],
           ratio_metric: str, higher_is_better: bool) -> dict:
    """Build the result object. ``targets`` maps metric name to a condition such as "<= 30";
    ``met`` is computed from the metrics. A ratio is how many times better Qunli is than the
    peer on ``ratio_metric`` (above 1: Qunli is ahead)."""
    ratios = {}
    ours = metrics.get(ratio_metric)
    for name, peer in peers.items():
        theirs = peer.get(ratio_metric.replace("qunli_", "")) if isinstance(peer, dict) else None
        if ours and theirs:
            ratios[name] = round(ours / theirs if higher_is_better else theirs / ours, 3)
    met = True
    for metric, cond in targets.items():
        op, bound = cond.split()
        value = metrics.get(metric)
        met = met and value is not None and _OPS[op](value, float(bound))
    return {"scenario": scenario, "scale": scale, "backend": connection.vendor, "metrics": metrics,
            "peers": peers, "ratios": ratios, "targets": targets, "met": bool(met)}


def run_child(script: str, *args, **env_extra: str) -> dict:
    """Run a scenario's measuring half in a fresh interpreter (``python -P script args…``) on its
    own SQLite file, so the parent's database and caches stay out of the figures; the child
    prints its result as JSON on its last line. DATABASE_URL is dropped (the child names its
    database); ``env_extra`` adds variables."""
    import json
    import subprocess
    import sys

    env = dict(os.environ, **env_extra)
    env.pop("DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "-P", script, *map(str, args)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])

