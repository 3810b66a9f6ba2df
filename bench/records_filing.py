"""``qunli bench records-filing [--scale N] --json``: N pending items (100,000 by default)
filed by 4 concurrent filers through ``records.actions.file_items`` (batches of 1,000 items
drawn at random, so every filer hits every class), then checked: in every class the 件号 are
exactly 1..n (no gap) and no 档号 repeats.

Peer ``naive_max_plus_one`` (same run, same database, 4 threads, on the first 20,000 items
copied to a plain table): each item is numbered with ``SELECT MAX(件号)+1`` of its class and
an UPDATE, without a class lock — what a system does when it numbers row by row. Its time,
gaps and duplicates are reported.

Runs in a child process on a fresh SQLite file under the bench cache (migrated there), so
the dev database is never touched."""

import datetime as dt
import json
import os
import random
import shutil
import sys
import threading
import time
from pathlib import Path

FILERS = 4
BATCH = 1000
PEER_ITEMS = 20000


def _setup_django(db: Path):
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["QUNLI_DATA_DIR"] = str(db.parent)
    os.environ["DJANGO_SETTINGS_MODULE"] = "qunli.settings"
    import django

    django.setup()


def _populate(n: int):
    from qunli.core.models import Grant, User
    from qunli.orgs.models import Level, Line, Unit
    from qunli.records import actions
    from qunli.records.models import Category, Item

    women = Line.objects.get(code="women")
    root = Unit.objects.add_root({"name": "基准县", "level": Level.COUNTY})
    unit = Unit.objects.add_child(Unit.objects.get(pk=root.pk), {"name": "基准县妇联", "level": Level.COUNTY,
                                                                  "line": women})
    user = User.objects.create_user("bench", password="x", must_change_password=False)
    Grant.objects.create(user=user, role="staff", unit=Unit.objects.get(pk=root.pk), all_lines=True)
    fonds = actions.create_fonds(user, unit=unit, code="J001", name="基准县妇联")
    orgs = [actions.add_org_code(user, fonds, code=c, name=nm) for c, nm in (("BGS", "办公室"), ("ZZB", "组织部"))]
    ws = Category.objects.get(code="WS")
    rnd = random.Random(20260501)
    rows = []
    for i in range(n):
        year = 2019 + i % 5
        rows.append(Item(fonds=fonds, category=ws, year=year, retention=("Y", "D30", "D10")[rnd.randrange(3)],
                         org_code=orgs[rnd.randrange(2)], title=f"关于第{i}项工作的通知", responsible="基准县妇联",
                         date=dt.date(year, rnd.randint(1, 12), rnd.randint(1, 28)), doc_no=f"妇发〔{year}〕{i}号",
                         classification="internal", openness="pending", pages=rnd.randint(1, 20)))
    Item.objects.bulk_create(rows, batch_size=5000)
    return user


def _check(rows) -> tuple[int, int]:
    """(gaps, duplicates) over (class, number) rows."""
    classes = {}
    for cls, no in rows:
        classes.setdefault(cls, []).append(no)
    gaps = dups = 0
    for nos in classes.values():
        dups += len(nos) - len(set(nos))
        top = max(nos)
        gaps += top - len(set(nos))
    return gaps, dups


def _threads(target, n):
    from django.db import connections

    errors = []

    def wrap(k):
        try:
            target(k)
        except Exception as e:  # reported in the result
            errors.append(repr(e))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrap, args=(k,)) for k in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, errors


def _child(db: Path, n: int) -> dict:
    _setup_django(db)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    user = _populate(n)
    from qunli.records import actions
    from qunli.records.models import Item

    ids = list(Item.objects.values_list("pk", flat=True))
    random.Random(7).shuffle(ids)
    batches = [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)]

    def filer(k):
        for b in batches[k::FILERS]:
            actions.file_items(user, b)

    seconds, errors = _threads(filer, FILERS)
    # The search index catches up from the outbox after filing (QUNLI_SEARCH_DRAIN=deferred in
    # this child); timed on its own so filing and indexing are each visible.
    import time

    from qunli.core import search

    started = time.perf_counter()
    indexed = search.drain()
    index_seconds = time.perf_counter() - started
    rows = list(Item.objects.values_list("fonds_id", "category_id", "year", "retention", "org_code_id", "piece_no"))
    gaps, dups = _check((r[:5], r[5]) for r in rows)
    codes = Item.objects.values_list("archival_code", flat=True)
    dups += len(rows) - len(set(codes))
    unfiled = Item.objects.filter(status="pending").count()

    # peer: SELECT MAX(件号)+1 per item, no class lock
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE bench_naive (id INTEGER PRIMARY KEY, cls TEXT, d TEXT, piece_no INTEGER)")
        cur.execute("CREATE INDEX bench_naive_cls ON bench_naive (cls, piece_no)")
        cur.execute("INSERT INTO bench_naive (id, cls, d) SELECT id, fonds_id || '-' || year || '-' || retention "
                    "|| '-' || org_code_id, date FROM records_item ORDER BY id LIMIT %s", [PEER_ITEMS])
    with connection.cursor() as cur:
        cur.execute("SELECT id, cls FROM bench_naive")
        peer_rows = cur.fetchall()
    random.Random(9).shuffle(peer_rows)

    def naive(k):
        from django.db import connection as conn

        with conn.cursor() as cur:
            for pk, cls in peer_rows[k::FILERS]:
                cur.execute("SELECT COALESCE(MAX(piece_no), 0) + 1 FROM bench_naive WHERE cls = %s", [cls])
                no = cur.fetchone()[0]
                cur.execute("UPDATE bench_naive SET piece_no = %s WHERE id = %s", [no, pk])

    peer_seconds, peer_errors = _threads(naive, FILERS)
    with connection.cursor() as cur:
        cur.execute("SELECT cls, piece_no FROM bench_naive WHERE piece_no IS NOT NULL")
        peer_gaps, peer_dups = _check(cur.fetchall())
    return {"seconds": round(seconds, 3), "index_seconds": round(index_seconds, 3), "indexed": indexed,
            "seconds_with_index": round(seconds + index_seconds, 3), "items": n, "filers": FILERS, "batch": BATCH, "gaps": gaps,
            "duplicates": dups, "unfiled": unfiled, "errors": errors[:3], "items_per_s": round(n / seconds),
            "peer": {"items": len(peer_rows), "seconds": round(peer_seconds, 3),
                     "items_per_s": round(len(peer_rows) / peer_seconds), "gaps": peer_gaps, "duplicates": peer_dups,
                     "errors": peer_errors[:3]}}


def run(scale=None, stdout=None):
    from bench.common import cache_dir, result, run_child

    n = int(scale or 100_000)
    work = cache_dir("records_filing") / f"run-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        out = run_child(__file__, work / "bench.sqlite3", n, QUNLI_SEARCH_DRAIN="deferred")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    peer = out.pop("peer")
    metrics = {**out, "qunli_items_per_s": out["items_per_s"]}
    if stdout:
        stdout.write(f"filed {n} items in {out['seconds']} s; peer {peer['items']} items in {peer['seconds']} s "
                     f"with {peer['duplicates']} duplicates and {peer['gaps']} gaps\n")
    res = result("records-filing", f"{n} items, {FILERS} filers", metrics, {"naive_max_plus_one": peer},
                 {"seconds": "<= 10", "gaps": "<= 0", "duplicates": "<= 0"}, "qunli_items_per_s", True)
    res["backend"] = "sqlite"
    return res


if __name__ == "__main__":
    print(json.dumps(_child(Path(sys.argv[1]), int(sys.argv[2])), ensure_ascii=False))
