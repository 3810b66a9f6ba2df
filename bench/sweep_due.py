"""``qunli bench sweep-due [--scale N] --json``: the daily due-date sweep
(``casework.escalation.sweep_due``) over N open assigned cases (100,000 by default; 25 % overdue,
10 % due within three working days) handled by 200 caseworkers and 40 supervisors, then run a
second time the same day (it must add nothing), with the number of SQL queries of each run
(constant in the number of cases but for the bulk-insert batches: ~110 rows per INSERT on
SQLite's parameter limit).

Peer ``per_case_loop`` (same run, same database): what a sweep written case by case does — for
each overdue case, look up an existing notification, insert one and bump the recipient's counter
(3 queries per case) — over the first 5,000 overdue cases. Compared on cases handled per second.

Runs in a child process on a fresh SQLite file under the bench cache (migrated there), so the
dev database is never touched."""

import datetime as dt
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

PEER_CASES = 5000


def _setup_django(db: Path):
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["QUNLI_DATA_DIR"] = str(db.parent)
    os.environ["DJANGO_SETTINGS_MODULE"] = "qunli.settings"
    import django

    django.setup()


def _populate(n: int, today: dt.date):
    from qunli.casework.models import Case, Request, RequestType, new_tracking_code
    from qunli.core.models import Grant, User
    from qunli.orgs.models import Level, Line, Unit

    women = Line.objects.get(code="women")
    root = Unit.objects.add_root({"name": "基准县", "level": Level.COUNTY})
    unit = Unit.objects.add_child(Unit.objects.get(pk=root.pk), {"name": "基准县妇联", "level": Level.COUNTY,
                                                                  "line": women})
    users = User.objects.bulk_create([User(username=f"w{i}", kind="business") for i in range(240)])
    Grant.objects.bulk_create([Grant(user=u, role="staff", unit=unit, all_lines=True) for u in users])
    workers, supers = users[:200], users[200:]
    rtype = RequestType.objects.first()
    rnd = random.Random(20261206)
    codes = set()
    while len(codes) < n:
        codes.add(new_tracking_code())
    codes = sorted(codes)
    for start in range(0, n, 5000):
        chunk = range(start, min(n, start + 5000))
        reqs = Request.objects.bulk_create([Request(channel="12338", type=rtype, unit=unit, tracking_code=codes[i],
                                                    requester_name_mask="李**") for i in chunk])
        cases = []
        for i, req in zip(chunk, reqs, strict=True):
            r = rnd.random()
            due = (today - dt.timedelta(days=rnd.randint(1, 60)) if r < 0.25
                   else today + dt.timedelta(days=rnd.randint(0, 3)) if r < 0.35
                   else today + dt.timedelta(days=rnd.randint(10, 90)))
            cases.append(Case(request=req, unit=unit, status="in_service", caseworker=workers[i % 200],
                              supervisor=supers[i % 40], acknowledge_due=due, resolve_due=due,
                              acknowledged_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
        Case.objects.bulk_create(cases)


def _child(db: Path, n: int) -> dict:
    _setup_django(db)
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.models import F

    class CaptureQueriesContext:  # a counter: Django's query log keeps only the last 9,000
        def __init__(self, conn):
            self.conn, self.n = conn, 0

        def __call__(self, execute, sql, params, many, context):
            self.n += 1
            return execute(sql, params, many, context)

        def __enter__(self):
            self._cm = self.conn.execute_wrapper(self)
            self._cm.__enter__()
            return self

        def __exit__(self, *exc):
            return self._cm.__exit__(*exc)

        def __len__(self):
            return self.n

    call_command("migrate", verbosity=0)
    from qunli.casework.escalation import sweep_due
    from qunli.casework.models import Case
    from qunli.core.models import User
    from qunli.core.notification_models import Notification

    today = dt.date(2026, 12, 7)  # a Monday
    _populate(n, today)
    overdue_n = Case.objects.filter(resolve_due__lt=today).count()
    from django.urls import reverse

    reverse("casework:case_detail", args=[1])  # load the URLconf once, as any running process has

    with CaptureQueriesContext(connection) as q1:
        t0 = time.perf_counter()
        first = sweep_due(today)
        seconds = time.perf_counter() - t0
    rows_after_first = Notification.objects.count()
    with CaptureQueriesContext(connection) as q2:
        t0 = time.perf_counter()
        second = sweep_due(today)
        second_seconds = time.perf_counter() - t0
    added_again = Notification.objects.count() - rows_after_first + second["escalated"]

    # peer: one case at a time (own table of notifications so the two runs do not interfere)
    peer_cases = list(Case.objects.filter(resolve_due__lt=today).order_by("pk")
                      .values_list("pk", "caseworker_id", "resolve_due", "request__tracking_code")[:PEER_CASES])
    Notification.objects.all().delete()
    with CaptureQueriesContext(connection) as qp:
        t0 = time.perf_counter()
        with transaction.atomic():
            for pk, worker, due, code in peer_cases:
                key = f"case:{pk}:{due}"
                if Notification.objects.filter(recipient_id=worker, kind="overdue", dedupe_key=key).exists():
                    continue
                Notification.objects.create(recipient_id=worker, kind="overdue", title=f"个案 {code} 已超期",
                                            dedupe_key=key)
                User.objects.filter(pk=worker).update(unread_notifications=F("unread_notifications") + 1)
        peer_seconds = time.perf_counter() - t0
    handled = first["due_soon"] + first["overdue"] + first["escalated"]
    return {"cases": n, "overdue_cases": overdue_n, "seconds": round(seconds, 3), "queries": len(q1),
            "due_soon": first["due_soon"], "overdue": first["overdue"], "escalated": first["escalated"],
            "notified": first["notified"], "second_run_seconds": round(second_seconds, 3),
            "second_run_queries": len(q2), "second_run_added": added_again,
            "cases_per_s": round(handled / seconds),
            "peer": {"cases": len(peer_cases), "seconds": round(peer_seconds, 3), "queries": len(qp),
                     "cases_per_s": round(len(peer_cases) / peer_seconds)}}


def run(scale=None, stdout=None):
    from bench.common import cache_dir, result, run_child

    n = int(scale or 100_000)
    work = cache_dir("sweep_due") / f"run-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        # QUNLI_NOTIFY_BACKENDS=[]: measure the sweep, not the outbound log
        out = run_child(__file__, work / "bench.sqlite3", n, QUNLI_NOTIFY_BACKENDS="[]")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    peer = out.pop("peer")
    metrics = {**out, "qunli_cases_per_s": out["cases_per_s"]}
    if stdout:
        stdout.write(f"swept {n} cases in {out['seconds']} s ({out['queries']} queries); second run added "
                     f"{out['second_run_added']}; peer {peer['cases']} cases in {peer['seconds']} s "
                     f"({peer['queries']} queries)\n")
    res = result("sweep-due", f"{n} open cases", metrics, {"per_case_loop": peer},
                 {"second_run_added": "<= 0"}, "qunli_cases_per_s", True)
    res["backend"] = "sqlite"
    return res


if __name__ == "__main__":
    print(json.dumps(_child(Path(sys.argv[1]), int(sys.argv[2])), ensure_ascii=False))
