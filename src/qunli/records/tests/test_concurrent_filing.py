"""Four filers at once on the real database: every class stays unique and gapless. The
class counter row is locked (SELECT … FOR UPDATE on PostgreSQL) while a batch is numbered."""

import datetime as dt
import random
import threading

import pytest
from django.conf import settings
from django.db import connections

from qunli.records import actions
from qunli.records.models import Item

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif("sqlite" in settings.DATABASES["default"]["ENGINE"],
                       reason="the SQLite test database is one in-memory connection; the PostgreSQL run covers this"),
]

FILERS = 4
BATCHES = 6
PER_BATCH = 10


def test_four_filers_at_once_stay_gapless(fonds, capture, accounts):
    rnd = random.Random(7)
    ids = [capture(date=dt.date(2023, rnd.randint(1, 12), rnd.randint(1, 28)), retention=rnd.choice(["Y", "D30"])).pk
           for _ in range(FILERS * BATCHES * PER_BATCH)]
    rnd.shuffle(ids)
    staff = accounts["women_staff"]
    errors, barrier = [], threading.Barrier(FILERS)

    def filer(n):
        try:
            mine = ids[n::FILERS]
            barrier.wait()
            for b in range(BATCHES):
                actions.file_items(staff, mine[b * PER_BATCH:(b + 1) * PER_BATCH])
        except Exception as e:  # collected and asserted below
            errors.append(e)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=filer, args=(n,)) for n in range(FILERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    classes = {}
    for ret, no, code in Item.objects.values_list("retention", "piece_no", "archival_code"):
        classes.setdefault(ret, []).append(no)
        assert code.endswith(f"-{no:04d}")
    assert sum(len(v) for v in classes.values()) == len(ids)
    for nos in classes.values():
        assert sorted(nos) == list(range(1, len(nos) + 1))
