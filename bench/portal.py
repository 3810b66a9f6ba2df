"""``qunli bench portal [--scale county|quick] --json``

100 concurrent citizens (threads, urllib, one cookie jar each) on the real public portal,
served by gunicorn exactly as ``bench/http.py`` serves the staff site (2 sync worker
processes, 127.0.0.1, a free port) on a copy of the cached county-scale demo database. Each
citizen, ``ROUNDS`` times: opens the submit form, fills it in (think time), submits (302),
reads the page that shows the tracking code once, later opens the tracking form and tracks
the request with the code and the phone's last four digits — 5 requests a round, each timed
on its own, with human pauses between the steps (10–20 s to fill in the form, 3–7 s to read
a page). The machine's load average is reported beside the figures (a shared machine).

The portal's per-IP rate limits stay as deployed (20 accepted submissions per IP per hour …). The
clients reach gunicorn as they would behind nginx: gunicorn runs with
``QUNLI_TRUSTED_PROXIES=127.0.0.1`` and every client sends its own ``X-Forwarded-For``
address (from 198.18.0.0/15, the benchmarking range: a header value only, no traffic goes
there), so each client is rate-limited as one citizen (``core.clientip.client_ip``). Each
client also has its own phone number.

Metrics: ``p95_ms`` over every request (target ≤ 150), per request kind, ``errors`` (target
0: an unexpected status, a missing tracking code, a tracking answer without the request, an
exception), and afterwards, in the database: every accepted submission (a code shown to a
client) is there exactly once, with its case, under the client's phone (blind index), and
no other online request appeared (``db_mismatches``, target 0).

Peer ``bare_insert``: a second gunicorn on the same database copy with
``bench/portal_bare_settings.py`` — the same five steps as bare endpoints: a static form, a
plain ORM insert of the request and its case (no validation, sealing, audit log, rate limit
or session), the code echoed back, a lookup by code — driven by the same clients and think
times and checked the same way. The ratio is on ``p95_ms``.

``--scale quick``: a tiny migrated database (one county, cached), 8 clients, one round, no
think time — a smoke test of the machinery, not a measurement.
"""

from __future__ import annotations

import http.cookiejar
import os
import random
import re
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.common import latency_metrics, result
from bench.http import Server


@dataclass(frozen=True)
class Plan:
    clients: int
    rounds: int
    think_s: tuple[float, float]  # reading a page
    fill_s: tuple[float, float]  # filling in the submit form (name, phone, a few sentences)
    deadline_s: float


PLANS = {
    "county": Plan(clients=100, rounds=2, think_s=(3.0, 7.0), fill_s=(10.0, 20.0), deadline_s=300),
    "quick": Plan(clients=8, rounds=1, think_s=(0.0, 0.05), fill_s=(0.0, 0.05), deadline_s=60),
}
REQUEST_TIMEOUT_S = 30
PROXY = "127.0.0.1"
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_CODE = re.compile(r'id="tracking-code">([0-9A-Z]{10})<')
DESCRIPTIONS = ["公司拖欠三个月工资，多次讨要未果，希望工会帮助维权。", "孩子父母在外打工，爷爷奶奶年纪大，想申请关爱帮扶。",
                "丈夫经常打骂，想咨询怎么申请人身安全保护令。", "工地受伤后老板不给报销医药费，想了解法律援助。",
                "家里困难，孩子考上大学学费不够，想申请助学。"]
NAMES = ["王秀英", "李建国", "张丽", "刘洋", "陈静", "杨明", "赵娟", "黄强"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 comes back as an HTTPError we read ourselves: each request is timed alone


class Citizen:
    def __init__(self, base: str, i: int, seed: int):
        self.base = base
        self.rng = random.Random(seed * 1000 + i)
        self.xff = f"198.18.{i // 250}.{i % 250 + 1}"
        self.phone = f"13{self.rng.randint(5, 9)}{seed % 100:02d}{i:06d}"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def request(self, path: str, data: dict | None = None) -> tuple[int, str, str]:
        """(status, Location, body) of one request, without following redirects."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers={"X-Forwarded-For": self.xff})
        try:
            with self.opener.open(req, timeout=REQUEST_TIMEOUT_S) as r:
                return r.status, r.headers.get("Location", ""), r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Location", ""), e.read().decode("utf-8", "replace")


class Flow:
    """The five steps of a round against one site; ``csrf`` tells whether its forms carry a token."""

    def __init__(self, paths: dict, csrf: bool, track_ok: str):
        self.paths, self.csrf, self.track_ok = paths, csrf, track_ok


PORTAL = Flow({"submit_form": "/portal/submit/", "submit": "/portal/submit/", "track_form": "/portal/track/",
               "track": "/portal/track/"}, csrf=True, track_ok='id="public-status"')
BARE = Flow({"submit_form": "/bare/submit/", "submit": "/bare/submit/", "track_form": "/bare/track/",
             "track": "/bare/track/"}, csrf=False, track_ok="status=")


def _load(base: str, flow: Flow, plan: Plan, units: list[int], types: list[int], seed: int) -> dict:
    samples: dict[str, list[float]] = {}
    accepted: list[tuple[str, str]] = []  # (code, phone)
    errors = {"n": 0}
    problems: list[str] = []
    lock = threading.Lock()
    deadline = time.time() + plan.deadline_s
    ready = threading.Barrier(plan.clients)

    def worker(i: int):
        c = Citizen(base, i, seed)
        rng = c.rng
        try:
            ready.wait(timeout=60)
        except threading.BrokenBarrierError:
            pass
        time.sleep(rng.uniform(0, plan.think_s[1]))  # stagger the start

        def step(kind, path, data=None, ok=lambda s, loc, b: s == 200):
            t = time.perf_counter()
            try:
                status, loc, body = c.request(path, data)
                bad = not ok(status, loc, body)
            except OSError as e:
                status, loc, body, bad = 0, "", repr(e), True
            ms = (time.perf_counter() - t) * 1000
            with lock:
                samples.setdefault(kind, []).append(ms)
                errors["n"] += bad
                if bad and len(problems) < 10:
                    problems.append(f"{kind} {status} {body[:200]!r}")
            return status, loc, body, bad

        def think():
            time.sleep(rng.uniform(*plan.think_s))

        for _ in range(plan.rounds):
            if time.time() > deadline:
                break
            _s, _l, html, bad = step("submit_form", flow.paths["submit_form"])
            if bad:
                continue
            data = {"unit": rng.choice(units), "type": rng.choice(types), "name": rng.choice(NAMES),
                    "phone": c.phone, "description": rng.choice(DESCRIPTIONS), "consent": "on", "website": ""}
            if flow.csrf:
                m = _CSRF.search(html)
                data["csrfmiddlewaretoken"] = m.group(1) if m else ""
            time.sleep(rng.uniform(*plan.fill_s))  # filling in the form
            _s, loc, _b, bad = step("submit", flow.paths["submit"], data, ok=lambda s, loc, b: s == 302 and loc)
            if bad:
                continue
            _s, _l, html, bad = step("submitted", loc, ok=lambda s, loc, b: s == 200 and _CODE.search(b))
            if bad:
                continue
            code = _CODE.search(html).group(1)
            with lock:
                accepted.append((code, c.phone))
            think()  # later: check the progress
            _s, _l, html, bad = step("track_form", flow.paths["track_form"])
            if bad:
                continue
            data = {"code": code, "last4": c.phone[-4:]}
            if flow.csrf:
                m = _CSRF.search(html)
                data["csrfmiddlewaretoken"] = m.group(1) if m else ""
            think()
            step("track", flow.paths["track"], data,
                 ok=lambda s, loc, b, code=code: s == 200 and code in b and flow.track_ok in b)
            think()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(plan.clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(plan.deadline_s + 120)
    return {"samples": samples, "errors": errors["n"], "accepted": accepted, "problems": problems,
            "seconds": time.perf_counter() - t0}


def _serve(settings_module: str, db: Path, log, flow: Flow, plan: Plan, units, types) -> dict:
    server = Server(settings_module, db, log, extra_env={"QUNLI_TRUSTED_PROXIES": PROXY})
    try:
        server.wait_ready()
        return _load(server.base, flow, plan, units, types, seed=11)
    finally:
        server.stop()


def _check_database(accepted: list[tuple[str, str]], before_ids: int, sealed: bool) -> dict:
    """Every accepted code exactly once, with its case and the client's phone (its blind
    index when ``sealed``, else the mask's last four); no other online request written
    during the run."""
    from qunli.casework.models import Channel, Request
    from qunli.core.crypto import blind_index

    codes = [c for c, _ in accepted]
    rows = {}
    for i in range(0, len(codes), 500):
        for code, phone_hash, mask in Request.objects.filter(tracking_code__in=codes[i:i + 500]).values_list(
                "tracking_code", "requester_phone_hash", "requester_phone_mask"):
            rows.setdefault(code, []).append(phone_hash if sealed else mask[-4:])
    missing = sum(1 for c in codes if c not in rows)
    duplicates = sum(max(0, len(v) - 1) for v in rows.values()) + (len(codes) - len(set(codes)))
    wrong_phone = sum(1 for c, p in accepted if c in rows and rows[c][0] != (blind_index(p) if sealed else p[-4:]))
    new_requests = Request.objects.filter(pk__gt=before_ids, channel=Channel.ONLINE).count()
    without_case = Request.objects.filter(pk__gt=before_ids, case__isnull=True).count()
    extra = new_requests - len(set(codes))
    mismatches = missing + duplicates + wrong_phone + abs(extra) + without_case
    return {"accepted": len(codes), "in_db": new_requests, "missing": missing, "duplicates": duplicates,
            "wrong_phone": wrong_phone, "extra": extra, "without_case": without_case, "mismatches": mismatches}


def _prepare() -> dict:
    from django.db.models import Max

    from qunli.casework.models import Request, RequestType
    from qunli.portal.actions import intake_units, portal_account

    portal_account()  # as on a live site, where the first submission created it long ago
    return {"units": list(intake_units().values_list("pk", flat=True)),
            "types": list(RequestType.objects.filter(is_active=True).values_list("pk", flat=True)),
            "max_request": Request.objects.aggregate(m=Max("pk"))["m"] or 0}


def quick_database() -> Path:
    """A migrated database with one county and its line units (the smoke test's scale),
    built once under the bench cache."""
    from bench.common import cache_dir
    from bench.fresh import migrated_database

    def fill():
        from qunli.orgs.models import Level, Line, Unit

        lines = {line.code: line for line in Line.objects.all()}
        prov = Unit.add_root(name="甘肃省", level=Level.PROVINCE, division_code="620000")
        county = prov.add_child(name="秦安县", level=Level.COUNTY, division_code="620522")
        for code in ("union", "women", "league"):
            county.add_child(name=f"秦安县{lines[code].name}", level=Level.COUNTY, line=lines[code], kind="organ")
            county.refresh_from_db()

    return migrated_database(cache_dir("portal") / "quick.sqlite3", fill)


def run(scale: str | None = None, stdout=None) -> dict:
    from qunli.demo import cached_database, using_database

    scale = scale or "county"
    if scale not in PLANS:
        raise ValueError(f"portal: unknown scale {scale} (county or quick)")
    plan = PLANS[scale]
    src = quick_database() if scale == "quick" else cached_database(scale)
    work = Path(tempfile.mkdtemp(prefix="qunli-bench-portal-"))
    log = open(work / "gunicorn.log", "w")  # noqa: SIM115 - closed in finally
    try:
        out = {}
        for name, settings_module, flow in (("qunli", "qunli.settings", PORTAL),
                                              ("bare_insert", "bench.portal_bare_settings", BARE)):
            db = work / f"{name}.sqlite3"  # each site gets its own fresh copy: same starting point
            shutil.copyfile(src, db)
            with using_database(db):
                info = _prepare()
            if stdout is not None:
                stdout.write(f"portal/{name}: {len(info['units'])} intake units; {plan.clients} clients × "
                             f"{plan.rounds} rounds × 5 requests; load average {os.getloadavg()[0]:.2f}")
            run_ = _serve(settings_module, db, log, flow, plan, info["units"], info["types"])
            with using_database(db):
                run_["db"] = _check_database(run_["accepted"], info["max_request"], sealed=name == "qunli")
            out[name] = run_
    finally:
        log.close()
        shutil.rmtree(work, ignore_errors=True)

    ours, peer = out["qunli"], out["bare_insert"]
    load = os.getloadavg()
    all_ours = [s for v in ours["samples"].values() for s in v]
    metrics = {**latency_metrics(all_ours), "errors": ours["errors"], "requests": len(all_ours),
               "throughput_per_s": round(len(all_ours) / ours["seconds"], 2),
               "accepted": ours["db"]["accepted"], "db_mismatches": ours["db"]["mismatches"],
               "machine_load_1m": round(load[0], 2), "machine_load_5m": round(load[1], 2),
               "db_check": ours["db"]}
    for kind, v in sorted(ours["samples"].items()):
        metrics.update(latency_metrics(v, f"{kind}_"))
    if ours["problems"]:
        metrics["first_errors"] = ours["problems"][:3]
    peer_all = [s for v in peer["samples"].values() for s in v]
    peers = {"bare_insert": {**latency_metrics(peer_all), "errors": peer["errors"], "requests": len(peer_all),
                             "db_mismatches": peer["db"]["mismatches"],
                             **{k: v for kind, s in sorted(peer["samples"].items())
                                for k, v in latency_metrics(s, f"{kind}_").items()}}}
    return result("portal", f"{scale}: {plan.clients} clients × {plan.rounds} rounds (submit form, submit, code page, "
                            f"track form, track), form filled in {plan.fill_s[0]}–{plan.fill_s[1]} s, pages read in "
                            f"{plan.think_s[0]}–{plan.think_s[1]} s, gunicorn 2 workers, {os.cpu_count()} cores",
                  metrics, peers, {"p95_ms": "<= 150", "errors": "<= 0", "db_mismatches": "<= 0"},
                  ratio_metric="p95_ms", higher_is_better=False)
