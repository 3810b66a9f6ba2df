"""Concurrent writers keep the audit chain linear: each append locks the chain head, so no
two rows ever share a predecessor. Runs against the real database of the run (SQLite with
IMMEDIATE transactions, PostgreSQL with SELECT … FOR UPDATE)."""

import threading

import pytest
from django.conf import settings
from django.db import connections

from qunli.core.audit import verify_chain
from qunli.core.models import ChangeLog
from qunli.orgs import actions

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif("sqlite" in settings.DATABASES["default"]["ENGINE"],
                       reason="the SQLite test database is one in-memory connection; the PostgreSQL run covers this"),
]

WRITERS = 4
EACH = 15


def test_parallel_actions_leave_one_unbroken_chain(accounts, tree):
    staff = accounts["party_office"]
    errors = []

    # Each writer changes its own unit, so nothing but the audit chain head makes them wait.
    own_units = [tree[k] for k in ("women", "union", "ggw", "town_women")]

    def writer(n):
        try:
            for i in range(EACH):
                unit = type(own_units[n]).objects.get(pk=own_units[n].pk)
                actions.update_unit(staff, unit, short_name=f"写入{n}-{i}")
        except Exception as e:  # collected and asserted below
            errors.append(e)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = list(ChangeLog.objects.order_by("seq").values_list("seq", "prev_digest", "digest"))
    assert len(rows) == WRITERS * EACH
    assert len({prev for _, prev, _ in rows}) == len(rows)  # no fork in the chain
    assert verify_chain(ChangeLog)[1] == []
