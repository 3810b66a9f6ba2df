"""The ``portal`` and ``caseload`` benchmarks run end to end at their tiny scale and print the
JSON line of DESIGN.md. A smoke test of the machinery (data generation, gunicorn, the
exactly-once check, the peer), never of speed: ``met`` is not asserted.

Each runs ``qunli bench NAME --scale quick --json`` in a child process on its own SQLite
files under a temporary bench directory, so it touches neither the test database nor the
developer's cache. Once per run: skipped in the PostgreSQL pass, which it would not exercise."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = [pytest.mark.skipif("sqlite" not in settings.DATABASES["default"]["ENGINE"],
                                 reason="runs its own SQLite databases; once per test run is enough"),
              pytest.mark.django_db]  # unused, but the session's seeded-rows fixture needs a test database


def bench(name: str, tmp_path) -> dict:
    env = dict(os.environ, QUNLI_BENCH_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="qunli.settings",
               PYTHONPATH=os.pathsep.join([str(settings.PROJECT_DIR / "src"), os.environ.get("PYTHONPATH", "")]))
    env.pop("DATABASE_URL", None)
    env.pop("QUNLI_REQUIRE_DB", None)
    out = subprocess.run([sys.executable, "-m", "qunli.cli", "bench", name, "--scale", "quick", "--json"],
                         cwd=settings.PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def check_shape(res: dict, scenario: str, peer: str, targets: set[str]) -> None:
    assert res["scenario"] == scenario and res["backend"] == "sqlite" and "quick" in res["scale"]
    assert set(res["targets"]) == targets and isinstance(res["met"], bool)
    assert set(res["peers"]) == {peer} and peer in res["ratios"] and res["ratios"][peer] > 0
    for name in ("p95_ms", "p50_ms"):
        assert res["metrics"][name] > 0 and res["peers"][peer][name] > 0
    assert res["metrics"]["errors"] == 0


def test_portal_bench_runs_and_every_accepted_submission_is_stored_once(tmp_path):
    res = bench("portal", tmp_path)
    check_shape(res, "portal", "bare_insert", {"p95_ms", "errors", "db_mismatches"})
    m = res["metrics"]
    assert m["accepted"] == 8 and m["db_mismatches"] == 0 and m["requests"] == 40
    assert m["db_check"]["in_db"] == 8 and m["db_check"]["duplicates"] == 0
    assert res["peers"]["bare_insert"]["errors"] == 0 and res["peers"]["bare_insert"]["db_mismatches"] == 0


def test_caseload_bench_runs_and_the_peer_agrees(tmp_path):
    res = bench("caseload", tmp_path)
    check_shape(res, "caseload", "or_filter", {"caseworker_p95_ms", "supervisor_p95_ms", "errors"})
    m = res["metrics"]
    assert m["cases"] == 3000 and m["peer_answer_matches"] is True
    # the caseworker's list: their cases and those they were added to; the supervisor's: all theirs
    assert m["caseworker_rows"] >= m["caseworker_cases"] > 0 and m["supervisor_rows"] == m["supervisor_cases"] > 0
    for name in ("caseworker_page_p95_ms", "supervisor_page_p95_ms", "supervisor_all_p95_ms"):
        assert m[name] > 0
