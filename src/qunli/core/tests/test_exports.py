"""``XlsxInChild``: a workbook written by a child process, the same as ``write_xlsx`` in process."""

import io
import os
import sys
import tempfile

import openpyxl
import pytest

from qunli.core.exports import XlsxInChild, write_xlsx

# nothing here touches the database, but run alone the file would be a session without one, and
# the suite's session fixture (conftest._seeded_rows) reads the migrated test database
pytestmark = pytest.mark.django_db


def _cells(data: bytes) -> list[tuple]:
    return list(openpyxl.load_workbook(io.BytesIO(data)).active.values)


def test_the_child_writes_the_same_cells_as_write_xlsx_in_process():
    headers = ["件号", "题名", "页数"]
    rows = [[1, "关于开展“三八”节活动的通知", 3], [2, "妇联<工作>总结 & 计划", None], [3, "=SUM(A1)", 2.5]]
    child = XlsxInChild(headers, rows, sheet_name="归档文件目录")
    buf = io.BytesIO()
    write_xlsx(buf, headers, rows, sheet_name="归档文件目录")
    data = child.result()
    assert _cells(data) == _cells(buf.getvalue())
    assert openpyxl.load_workbook(io.BytesIO(data)).sheetnames == ["归档文件目录"]
    assert not os.path.exists(child.path)


def test_a_failing_child_raises_and_leaves_no_file(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(sys, "executable", os.path.join(os.path.dirname(sys.executable), "false-python-missing"))
    with pytest.raises(OSError):
        XlsxInChild(["a"], [[1]])
    assert list(tmp_path.iterdir()) == []  # the workbook's temporary file went with the child that never started
    monkeypatch.undo()
    child = XlsxInChild(["a"], [[1]])
    child.proc.kill()  # the child dies before writing its workbook
    with pytest.raises(RuntimeError, match="xlsx child process failed"):
        child.result()
    assert not os.path.exists(child.path)


def test_an_exported_moment_is_local_time_to_the_second_not_utc():
    """A request received at 23:09 Beijing time is 15:09 UTC: exported as UTC it would sit on
    the wrong day of a spreadsheet sorted by date."""
    import datetime as dt

    received = dt.datetime(2026, 12, 7, 15, 9, 30, 387085, tzinfo=dt.UTC)
    buf = io.BytesIO()
    write_xlsx(buf, ["受理时间", "日期"], [[received, dt.date(2026, 12, 7)]])
    assert _cells(buf.getvalue())[1] == ("2026-12-07 23:09:30", "2026-12-07")
    assert _cells(XlsxInChild(["受理时间"], [[received]]).result())[1] == ("2026-12-07 23:09:30",)


def test_a_workbook_with_its_creation_date_is_the_same_bytes_when_written_again_later():
    """A transfer package digests its catalogue: written again a second later (a child process
    or a thread, a retry) it must not differ by the time xlsx records."""
    import io
    import time

    from qunli.core.exports import write_xlsx

    first, again = io.BytesIO(), io.BytesIO()
    write_xlsx(first, ["档号"], [["J001-WS·2023-Y-0001"]], created="2026-12-07")
    time.sleep(1.1)  # xlsx keeps the creation time to the second
    write_xlsx(again, ["档号"], [["J001-WS·2023-Y-0001"]], created="2026-12-07")
    assert first.getvalue() == again.getvalue()
