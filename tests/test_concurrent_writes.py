"""Concurrent writers keep the audit chain linear: each append locks the chain head, so no
two rows ever share a predecessor. Runs against the real database of the run (SQLite with
IMMEDIATE transactions, PostgreSQL with SELECT … FOR UPDATE)."""

import threading

import pytest
from django.db import connection, connections

from qunli.core.audit import verify_chain
from qunli.core.models import ChangeLog
from qunli.orgs import actions

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 4
EACH = 15


@pytest.fixture(autouse=True)
def _lift_sqlite_triggers_for_flush():
    # The transactional test database is emptied with DELETE afterwards (see tests/browser).
    yield
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            for t in ("core_changelog", "core_accesslog"):
                for op in ("update", "delete"):
                    cur.execute(f"DROP TRIGGER IF EXISTS {t}_no_{op}")


def test_parallel_actions_leave_one_unbroken_chain(accounts, tree):
    if connection.vendor == "sqlite" and "memory" in str(connection.settings_dict["NAME"]):
        pytest.skip("an in-memory SQLite database is one connection; the PostgreSQL run covers this")
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
