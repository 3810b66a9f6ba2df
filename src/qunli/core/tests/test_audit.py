import importlib

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from qunli.core.audit import log_access, log_change, verify_chain
from qunli.core.models import AccessLog, ChangeLog
from qunli.orgs import actions as org_actions


@pytest.fixture(autouse=True)
def _append_only_triggers(db):
    """Make sure the triggers of migration 0003 are present, even if an earlier
    transactional test in this process lifted them to empty its database."""
    migration = importlib.import_module("qunli.core.migrations.0003_append_only_audit")

    class _Editor:
        def __init__(self):
            self.connection = connection

    if connection.vendor == "sqlite":
        migration.create_triggers(None, _Editor())


@pytest.fixture
def some_changes(accounts, tree):
    staff = accounts["women_staff"]
    for i in range(5):
        org_actions.update_unit(staff, tree["women"], short_name=f"妇联{i}")
    return ChangeLog.objects.order_by("seq")


def _drop_triggers():
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("DROP TRIGGER IF EXISTS core_changelog_append_only ON core_changelog")
        else:
            cur.execute("DROP TRIGGER IF EXISTS core_changelog_no_update")
            cur.execute("DROP TRIGGER IF EXISTS core_changelog_no_delete")


def test_every_action_appends_a_chained_change_row(some_changes):
    rows = list(some_changes)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert all(b.prev_digest == a.digest for a, b in zip(rows, rows[1:], strict=False))
    assert rows[-1].before["short_name"] == "妇联3" and rows[-1].after["short_name"] == "妇联4"
    checked, breaks = verify_chain(ChangeLog)
    assert checked == len(rows) and breaks == []


def test_database_refuses_to_update_or_delete_audit_rows(some_changes):
    for sql in ("UPDATE core_changelog SET actor_name = 'x'", "DELETE FROM core_changelog"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert ChangeLog.objects.count() == some_changes.count()


def test_verify_names_the_row_whose_content_was_edited(some_changes):
    _drop_triggers()
    target = some_changes[2]
    with connection.cursor() as cur:
        cur.execute("UPDATE core_changelog SET object_repr = '篡改' WHERE seq = %s", [target.seq])
    _, breaks = verify_chain(ChangeLog)
    assert [(b.seq, b.reason) for b in breaks] == [(target.seq, "摘要不符：本条记录内容被改动")]


def test_verify_detects_a_deleted_row_in_the_middle_and_at_the_end(some_changes):
    _drop_triggers()
    last = some_changes.last().seq
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_changelog WHERE seq IN (2, %s)", [last])
    _, breaks = verify_chain(ChangeLog)
    reasons = {b.reason for b in breaks}
    assert "序号不连续：缺少第2条" in reasons
    assert "链尾不符：末尾记录被删除" in reasons


def test_audit_verify_command_fails_on_a_broken_chain(some_changes, capsys):
    call_command("audit", "verify")
    assert "哈希链完整" in capsys.readouterr().out
    _drop_triggers()
    with connection.cursor() as cur:
        cur.execute("UPDATE core_changelog SET after = '{}' WHERE seq = 1")
    with pytest.raises(Exception, match="断裂"):
        call_command("audit", "verify")


def test_access_log_is_a_separate_chain(accounts, person_factory):
    p = person_factory()
    log_change(accounts["women_staff"], "test.touch", p, None, {"x": 1})
    log_access(accounts["women_staff"], p, ["id_number"], "核对身份")
    row = AccessLog.objects.get()
    assert row.seq == 1 and row.fields == "id_number" and row.purpose == "核对身份"
    assert verify_chain(AccessLog)[1] == []


def test_the_auditor_searches_by_a_persons_name_and_chinese_types_and_reads_chinese(client_for, accounts, tree):
    from conftest import make_user
    from qunli.core.models import User
    from qunli.orgs import actions as orgs_actions

    staff = accounts["women_staff"]
    staff.display_name = "县妇联王敏"
    staff.save()
    orgs_actions.update_unit(staff, tree["village_women"], address="东风村村委会")
    auditor = make_user("shenji2", kind=User.Kind.AUDITOR)
    page = client_for(auditor).get("/core/audit/changes/", {"actor": "县妇联王敏", "object_type": "orgs.unit",
                                                            "action": "orgs.update_unit"}).content.decode()
    assert "修改单位" in page and "东风村妇联" in page and "<td>单位<div" in page  # types and actions in Chinese
    assert '<option value="orgs.unit" selected>单位（orgs.unit）</option>' in page
    nothing = client_for(auditor).get("/core/audit/changes/", {"actor": "别人"}).content.decode()
    assert "没有记录" in nothing


def test_the_access_log_names_every_logged_field_in_chinese_on_the_page_and_in_the_export(
        client_for, accounts, person_factory):
    """Every key any module passes to ``log_access`` as a literal, and the people fields it
    logs by key, reads in Chinese for the auditor — on the page and in the xlsx."""
    import io
    import re
    from pathlib import Path

    import openpyxl

    import qunli
    from qunli.core.admin_views import SENSITIVE_LABELS
    from qunli.people.models import Person

    src = Path(qunli.__file__).parent
    logged = {key for path in src.rglob("*.py") if "tests" not in path.parts
              for args in re.findall(r"log_access\([^\n]*?\[([^\]]*)\]", path.read_text())
              for key in re.findall(r'"([a-z_]+)"', args)}
    logged |= set(Person.SENSITIVE)
    assert {"visit_notes", "reading", "id_number"} <= logged  # the scan finds the call sites
    assert logged <= set(SENSITIVE_LABELS), logged - set(SENSITIVE_LABELS)

    person = person_factory()
    log_access(accounts["party_office"], person, sorted(logged), "核实")
    c = client_for(accounts["auditor"])
    page = c.get("/core/audit/access/").content.decode()
    for key in logged:
        assert SENSITIVE_LABELS[key] in page
    assert not re.search(r"visit_notes|request_attachment|id_number", page)
    book = openpyxl.load_workbook(io.BytesIO(b"".join(c.get("/core/audit/access/", {"export": "xlsx"}).streaming_content)))
    cells = [cell for row in book.active.iter_rows(values_only=True) for cell in row if isinstance(cell, str)]
    assert any("走访记录" in cell for cell in cells) and not any("visit_notes" in cell for cell in cells)
