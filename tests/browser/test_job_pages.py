"""The job pages with a real worker: gunicorn and ``qunli worker`` run as they do in production
(processes of their own, on a database of their own), Chromium drives the pages. A person
roster larger than the in-request limit is queued; its page says so, then follows the worker
through the dry run and the commit without a reload; an unmasked export is started from the
export page, followed on its job page and downloaded — an xlsx openpyxl reads back, with the
imported people in the import template's columns."""

import datetime as dt
import io
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request

import openpyxl
import pytest
from playwright.sync_api import expect

from conftest import PASSWORD
from qunli.core.identifiers import make_id_number
from qunli.core.imports import get_importer
from qunli.core.tests.worker_env import migrated_worker_env, wait_for
from tests.browser.test_walkthrough import login

ROWS = 400
SYNC_MAX_BYTES = 4096  # the server's in-request limit, lowered so a 400-row roster is "large"
GUARD_MS = 120_000  # a guard against hanging, not a timing assertion

SEED = """
import sys
from qunli.core.models import Grant, User
from qunli.orgs.models import Level, Line, Unit
root = Unit.objects.add_root({"name": "湖南省", "level": Level.PROVINCE})
county = Unit.objects.get(pk=root.pk).add_child(name="示范县", level=Level.COUNTY)
Unit.objects.get(pk=county.pk).add_child(name="示范县妇联", level=Level.COUNTY, line=Line.objects.get(code="women"))
user = User.objects.create_user("fulian", password=sys.argv[1], display_name="县妇联", must_change_password=False)
Grant.objects.create(user=user, role="staff", unit=Unit.objects.get(pk=county.pk), all_lines=True)
print("SEEDED")
"""


def roster() -> tuple[bytes, dict[str, str]]:
    people = {
        make_id_number("430121", dt.date(1960, 1, 1) + dt.timedelta(days=i), i % 900): f"人员{i:03d}"
        for i in range(ROWS)
    }
    lines = ["姓名,身份证号,所属单位,联系电话"]
    lines += [f"{name},{idn},示范县妇联,139{i:08d}" for i, (idn, name) in enumerate(people.items())]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8"), people


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def platform(tmp_path):
    """A migrated database with one county and its staff account, gunicorn serving it (static
    files from the finders, as QUNLI_DEBUG does, instead of a compressing collectstatic), and
    the environment to start ``qunli worker`` in; everything stopped and dropped afterwards."""
    with migrated_worker_env(tmp_path) as env:
        env.env["QUNLI_IMPORT_SYNC_MAX_BYTES"] = str(SYNC_MAX_BYTES)
        started: list[subprocess.Popen] = []
        try:
            assert "SEEDED" in env.script(SEED, PASSWORD)
            port = _free_port()
            web = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "qunli.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--timeout",
                    "120",
                ],
                env={**env.env, "QUNLI_DEBUG": "1"},
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            started.append(web)
            base = f"http://127.0.0.1:{port}"
            wait_for(
                lambda: web.poll() is not None or _answers(f"{base}/accounts/login/"), "gunicorn to answer", 120
            )
            assert web.poll() is None, "gunicorn exited"
            yield env, base, started
        finally:
            for proc in started:
                _stop(proc)


def test_a_queued_import_and_an_export_are_followed_on_their_job_pages_to_the_download(
    page, platform, tmp_path
):
    env, base, started = platform
    content, people = roster()
    assert len(content) > SYNC_MAX_BYTES
    login(page, base, "fulian")

    # --- the import: queued while no worker runs ---------------------------------------------------
    page.goto(f"{base}/core/import/?kind=persons")
    page.set_input_files(
        "input[type=file]", files=[{"name": "全县花名册.csv", "mimeType": "text/csv", "buffer": content}]
    )
    page.get_by_role("button", name="上传并校验").click()
    page.wait_for_url(f"{base}/core/import/*/")
    progress = page.locator("#import-progress")
    expect(progress).to_contain_text("排队中，等待后台处理进程接手")
    expect(page.locator(".progress-bar")).to_be_visible()

    # --- a worker starts; the page follows it (HTMX polling, no reload by the test) ----------------
    started.append(env.worker())
    status = page.locator("#import-status")
    expect(status).to_contain_text(f"共{ROWS}行，全部校验通过", timeout=GUARD_MS)
    expect(page.locator("#import-preview")).to_contain_text("人员000")
    page.get_by_role("button", name="确认导入").click()
    expect(status).to_contain_text(f"已导入{ROWS}行", timeout=GUARD_MS)
    expect(status).to_have_class(re.compile(r"\balert-success\b"))
    assert f"PERSONS {ROWS}" in env.script(
        "from qunli.people.models import Person; print('PERSONS', Person.objects.count())"
    )

    # --- the export: started on the export page, written by the worker, downloaded from the job page -
    page.goto(f"{base}/core/export/")
    page.get_by_label("导出类型").select_option(label="人员")
    page.get_by_label("导出完整身份证号").check()
    page.get_by_label("用途").fill("换届核对")
    page.get_by_role("button", name="开始导出").click()
    page.wait_for_url(f"{base}/core/export/*/")
    expect(page.get_by_role("heading", name="导出人员（完整信息）")).to_be_visible()
    download_link = page.locator("#export-download")
    expect(download_link).to_contain_text(f"下载文件（{ROWS}行）", timeout=GUARD_MS)
    expect(page.locator("#export-status")).to_contain_text(f"已导出{ROWS}名人员")
    with page.expect_download() as info:
        download_link.click()
    download = info.value
    assert download.suggested_filename.startswith("人员导出-完整信息-")
    saved = tmp_path / "download.xlsx"
    download.save_as(saved)

    sheet = openpyxl.load_workbook(io.BytesIO(saved.read_bytes()), read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == [c.header for c in get_importer("persons").columns]
    assert len(rows) == ROWS + 1
    assert {r[1]: r[0] for r in rows[1:]} == people  # ID number -> name, unmasked
    assert {r[2] for r in rows[1:]} == {"示范县妇联"}
