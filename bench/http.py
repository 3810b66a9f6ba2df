"""``qunli bench http [--scale county] --json``

Starts gunicorn (2 sync worker processes, 127.0.0.1, a free port) on a copy of the cached
county-scale demo database, signs in 50 concurrent clients (threads, urllib, one cookie jar
each) and has each fetch a bounded number of pages — person list pages (some sorted by
name), person detail pages and the dashboard — with a think time between requests, under an
overall time limit. Metrics: ``p95_ms`` (target ≤ 100) and ``errors`` (target 0; any
non-200 answer, redirect to the login page or exception counts).

Peer ``django_admin``: a second gunicorn on the same database copy with
``bench/http_admin_settings.py`` (Qunli plus django.contrib.admin, Person registered, 50
rows a page, ordered by name) and the same 50 clients paging through its changelist.
The ratio is on ``p95_ms``. Nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import http.cookiejar
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench.common import latency_metrics, result

CLIENTS = 50
REQUESTS_PER_CLIENT = 10
THINK_S = (3.0, 7.0)  # uniform pause between one client's requests (an interactive user reading a page)
DEADLINE_S = 180  # whole run, per server
REQUEST_TIMEOUT_S = 30
ACCOUNTS = ("qunban", "lingdao", "gonghui", "fulian")
ADMIN_USER = "benchadmin"
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, settings_module: str, db: Path, log, extra_env: dict | None = None):
        from django.conf import settings

        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{db}", DJANGO_SETTINGS_MODULE=settings_module,
                   PYTHONPATH=os.pathsep.join([str(settings.PROJECT_DIR), os.environ.get("PYTHONPATH", "")]),
                   **(extra_env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{self.port}",
             "--log-level", "warning", "--timeout", "60", "qunli.wsgi:application"],
            env=env, stdout=log, stderr=log)

    def wait_ready(self, timeout: float = 60) -> None:
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Client:
    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[int, str, str]:
        with self.opener.open(self.base + path, timeout=REQUEST_TIMEOUT_S) as r:
            return r.status, r.geturl(), r.read().decode("utf-8", "replace")

    def login(self, login_path: str, username: str, password: str, next_path: str) -> bool:
        _status, _url, html = self.get(login_path)
        m = _CSRF.search(html)
        if not m:
            return False
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": m.group(1), "username": username,
                                       "password": password, "next": next_path}).encode()
        req = urllib.request.Request(self.base + login_path, data=data,
                                     headers={"Referer": self.base + login_path})
        with self.opener.open(req, timeout=REQUEST_TIMEOUT_S) as r:
            r.read()
            return r.status == 200 and "/login/" not in r.geturl()


def _load(base: str, login_path: str, users: list[str], password: str, paths_for, seed: int) -> dict:
    """Sign in CLIENTS clients, then let each fetch its pages; returns samples per page kind."""
    samples: dict[str, list[float]] = {}
    errors = {"n": 0, "login": 0}
    lock = threading.Lock()
    deadline = time.time() + DEADLINE_S
    clients = [Client(base) for _ in range(CLIENTS)]
    ready = threading.Barrier(CLIENTS)

    def worker(i: int):
        rng = random.Random(seed + i)
        c = clients[i]
        try:
            ok = c.login(login_path, users[i % len(users)], password, "/healthz")
        except OSError:
            ok = False
        if not ok:
            with lock:
                errors["login"] += 1
        try:
            ready.wait(timeout=120)
        except threading.BrokenBarrierError:
            pass
        if not ok:
            return
        time.sleep(rng.uniform(0, THINK_S[1]))  # stagger the start
        for _ in range(REQUESTS_PER_CLIENT):
            if time.time() > deadline:
                break
            kind, path = paths_for(rng)
            t = time.perf_counter()
            try:
                status, url, _body = c.get(path)
                bad = status != 200 or "/login/" in url
            except OSError:
                bad = True
            ms = (time.perf_counter() - t) * 1000
            with lock:
                samples.setdefault(kind, []).append(ms)
                errors["n"] += bad
            time.sleep(rng.uniform(*THINK_S))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(CLIENTS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_S + 150)
    return {"samples": samples, "errors": errors["n"] + errors["login"], "login_errors": errors["login"],
            "seconds": time.perf_counter() - t0}


def run(scale: str | None = None, stdout=None) -> dict:
    from qunli.demo import DEMO_PASSWORD, cached_database, using_database

    scale = scale or "county"
    src = cached_database(scale)
    work = Path(tempfile.mkdtemp(prefix="qunli-bench-http-"))
    db = work / "db.sqlite3"
    shutil.copyfile(src, db)
    log = open(work / "gunicorn.log", "w")  # noqa: SIM115 - closed in finally
    try:
        with using_database(db):
            info = _prepare(DEMO_PASSWORD)
        if stdout is not None:
            stdout.write(f"http: {info['persons']} persons visible to the county accounts; {CLIENTS} clients × "
                         f"{REQUESTS_PER_CLIENT} requests, think {THINK_S[0]}–{THINK_S[1]} s")
        ids, pages = info["ids"], max(1, min(40, info["persons"] // 50))

        def ours_paths(rng):
            x = rng.random()
            if x < 0.4:
                sort = "&sort=name_sort" if rng.random() < 0.5 else ""
                return "list", f"/people/?page={rng.randint(1, pages)}{sort}"
            if x < 0.8:
                return "detail", f"/people/{rng.choice(ids)}/"
            return "dashboard", "/reports/"

        def admin_paths(rng):
            return "changelist", f"/admin/people/person/?p={rng.randint(1, pages)}"

        ours = _serve("qunli.settings", db, log, "/accounts/login/", list(ACCOUNTS), DEMO_PASSWORD, ours_paths)
        peer = _serve("bench.http_admin_settings", db, log, "/admin/login/", [ADMIN_USER], DEMO_PASSWORD,
                      admin_paths)
    finally:
        log.close()
        shutil.rmtree(work, ignore_errors=True)

    all_ours = [s for v in ours["samples"].values() for s in v]
    metrics = {**latency_metrics(all_ours), "errors": ours["errors"], "requests": len(all_ours),
               "throughput_per_s": round(len(all_ours) / ours["seconds"], 2)}
    for kind, v in sorted(ours["samples"].items()):
        metrics.update(latency_metrics(v, f"{kind}_"))
    peer_all = [s for v in peer["samples"].values() for s in v]
    peers = {"django_admin": {**latency_metrics(peer_all), "errors": peer["errors"], "requests": len(peer_all)}}
    return result("http", f"{scale}: {info['persons']} persons, {CLIENTS} clients × {REQUESTS_PER_CLIENT} requests, "
                          f"think {THINK_S[0]}–{THINK_S[1]} s, gunicorn 2 workers",
                  metrics, peers, {"p95_ms": "<= 100", "errors": "<= 0"}, ratio_metric="p95_ms",
                  higher_is_better=False)


def _serve(settings_module, db, log, login_path, users, password, paths_for) -> dict:
    server = Server(settings_module, db, log)
    try:
        server.wait_ready()
        return _load(server.base, login_path, users, password, paths_for, seed=7)
    finally:
        server.stop()


def _prepare(password: str) -> dict:
    """In the database copy: the admin peer's superuser and the person ids to fetch."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from qunli.core.models import User
    from qunli.people.models import Person

    User.objects.update_or_create(username=ADMIN_USER, defaults={
        "password": make_password(password), "is_staff": True, "is_superuser": True, "kind": User.Kind.BUSINESS,
        "must_change_password": False, "password_changed_at": timezone.now()})
    qunban = User.objects.get(username="qunban")
    visible = Person.objects.visible_to(qunban)
    n = visible.count()
    rng = random.Random(2026)
    all_ids = list(visible.values_list("pk", flat=True)[:20000])
    return {"persons": n, "ids": rng.sample(all_ids, min(300, len(all_ids)))}
