"""Background export jobs through the API (core/job_api.py, and records' print-job route):
started by the same actions as the pages, run by the worker in-process (``run_queued``),
followed, and downloaded by their owner only — another account's job is a 404 like a
missing one."""

import datetime as dt
import io
import uuid

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from conftest import TokenClient, body, chinese_error, grant, make_user
from qunli.core.api import NOT_VISIBLE
from qunli.core.models import AccessLog, ChangeLog, ExportJob
from qunli.core.tests.queue import run_queued
from qunli.records import actions as records_actions
from qunli.records.models import Fonds, Item


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def api(accounts):
    return lambda who: TokenClient(accounts[who] if isinstance(who, str) else who)


def _content(r) -> bytes:
    return b"".join(r.streaming_content)


@pytest.fixture
def people(tree, person_factory):
    mine = [person_factory(unit=tree[u], name=f"人员{i}", phone=f"1380000000{i}")
            for i, u in enumerate(["village_women", "town_women", "women"])]
    person_factory(unit=tree["other_women"], name="邻县秘密人员", phone="13900000009")
    return mine


def _start(client: TokenClient, capture, data) -> dict:
    with capture(execute=True):
        r = client.post("/exports", data)
    assert r.status_code == 201, r.content.decode()
    return body(r)


def test_an_export_runs_through_the_api_and_its_file_downloads_masked(api, people, accounts,
                                                                    django_capture_on_commit_callbacks):
    staff = api("women_staff")
    n = AccessLog.objects.count()
    job = _start(staff, django_capture_on_commit_callbacks, {"kind": "persons"})
    assert job["status"] == "queued" and job["kind"] == "persons" and job["kind_label"]
    assert job["unmasked"] is False and job["file_name"] is None and job["finished_at"] is None
    assert ChangeLog.objects.filter(action="core.start_export", object_id=job["id"]).count() == 1

    r = staff.get(f"/jobs/{job['id']}/file")  # not written yet
    assert "尚未完成" in chinese_error(r, 409)[0]

    run_queued()
    r = staff.get(f"/jobs/{job['id']}")
    assert r.status_code == 200, r.content.decode()
    done = body(r)
    assert done["status"] == "done" and done["rows"] == 3, done["message"]
    assert done["file_name"].startswith("人员") and "-脱敏-" in done["file_name"] and done["file_name"].endswith(".xlsx")
    assert done["finished_at"] and "已导出3名人员" in done["message"]

    r = staff.get(f"/jobs/{job['id']}/file")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert r["Content-Disposition"].startswith("attachment;")
    rows = list(openpyxl.load_workbook(io.BytesIO(_content(r)), read_only=True).active.iter_rows(values_only=True))
    assert rows[0][:2] == ("姓名", "身份证号") and len(rows) == 4
    ids = {row[1] for row in rows[1:]}
    assert all("*" in v for v in ids) and people[0].reveal("id_number") not in ids
    assert "邻县" not in repr(rows)
    assert AccessLog.objects.count() == n  # masked: nothing revealed, nothing logged

    # the page's download of the same job answers the same file under the same headers
    page = Client()
    page.force_login(accounts["women_staff"])
    p = page.get(reverse("core:export_download", args=[job["id"]]))
    assert p.status_code == 200 and _content(p) == _content(staff.get(f"/jobs/{job['id']}/file"))
    assert (p["Content-Type"], p["Content-Disposition"]) == (r["Content-Type"], r["Content-Disposition"])

    listed = staff.get("/jobs", limit=10)
    assert listed.status_code == 200 and body(listed)["count"] == 1
    assert body(listed)["items"][0]["id"] == job["id"]


def test_an_unmasked_export_logs_one_access_and_downloads_plaintext(api, people, accounts,
                                                                   django_capture_on_commit_callbacks):
    staff = api("women_staff")
    n = AccessLog.objects.count()
    job = _start(staff, django_capture_on_commit_callbacks, {"kind": "persons", "unmasked": True, "purpose": "换届核对"})
    run_queued()
    assert body(staff.get(f"/jobs/{job['id']}"))["status"] == "done"
    for _ in range(2):  # the access is logged when the file is written, as for the page
        r = staff.get(f"/jobs/{job['id']}/file")
        assert r.status_code == 200
        data = _content(r)
    ids = {row[1] for row in openpyxl.load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(
        min_row=2, values_only=True)}
    assert people[0].reveal("id_number") in ids
    rows = list(AccessLog.objects.order_by("seq")[n:])
    assert len(rows) == 1 and (rows[0].object_type, rows[0].object_id) == ("core.exportjob", job["id"])
    assert rows[0].purpose == "换届核对" and rows[0].actor == accounts["women_staff"]
    assert "完整信息" in r["Content-Disposition"] or "%E5%AE%8C%E6%95%B4" in r["Content-Disposition"]


def test_refusals_are_the_pages_answered_in_chinese(api, people, tree, accounts):
    msg = chinese_error(api("leader").post("/exports", {"kind": "persons", "unmasked": True, "purpose": "核对"}), 403)
    assert "没有导出完整敏感信息的权限" in msg[0]
    msg = chinese_error(api("women_staff").post("/exports", {"kind": "persons", "unmasked": True, "purpose": " "}), 400)
    assert "须填写用途" in msg[0]
    assert "不支持的导出类型" in chinese_error(api("women_staff").post("/exports", {"kind": "secrets"}), 400)[0]
    assert "不含身份证号" in chinese_error(api("women_staff").post("/exports", {"kind": "units", "unmasked": True,
                                                                             "purpose": "核对"}), 400)[0]
    foreign_unit = tree["other_women"].pk
    msg = chinese_error(api("women_staff").post("/exports", {"kind": "persons", "unit_id": foreign_unit}), 400)
    assert f"编号 {foreign_unit}" in msg[0] and "数据范围" in msg[0]
    chinese_error(api("sysadmin").post("/exports", {"kind": "persons"}), 403)  # 三员分立
    chinese_error(api("women_staff").post("/exports", {}), 422)
    assert not ExportJob.objects.exists()


def test_another_accounts_job_is_a_404_like_a_missing_one(api, people, django_capture_on_commit_callbacks):
    job = _start(api("women_staff"), django_capture_on_commit_callbacks, {"kind": "persons"})
    run_queued()
    other = api("party_office")  # sees every person of the county: still not this job
    missing = str(uuid.uuid4())
    for suffix in ("", "/file"):
        theirs, nothing = other.get(f"/jobs/{job['id']}{suffix}"), other.get(f"/jobs/{missing}{suffix}")
        assert chinese_error(theirs, 404) == chinese_error(nothing, 404) == [NOT_VISIBLE]
    assert body(other.get("/jobs"))["count"] == 0
    chinese_error(api("sysadmin").get(f"/jobs/{job['id']}"), 403)


def test_a_failed_job_has_no_file(api, people, accounts, django_capture_on_commit_callbacks):
    staff = api("women_staff")
    job = _start(staff, django_capture_on_commit_callbacks, {"kind": "persons", "unmasked": True, "purpose": "核对"})
    from qunli.core.models import Grant
    from qunli.core.scoping import forget_grants

    Grant.objects.filter(user=accounts["women_staff"]).update(role="leader")  # write reach withdrawn
    forget_grants(accounts["women_staff"])
    run_queued()
    assert body(staff.get(f"/jobs/{job['id']}"))["status"] == "error"
    assert "导出失败" in chinese_error(staff.get(f"/jobs/{job['id']}/file"), 409)[0]


# --- print jobs (records) ---------------------------------------------------------------------------


@pytest.fixture
def fonds(tree, accounts):
    staff = accounts["women_staff"]
    f = records_actions.create_fonds(staff, unit=tree["county"], code="J001", name="示范县群团组织")
    records_actions.add_org_code(staff, f, code="BGS", name="办公室")
    return Fonds.objects.select_related("unit").get(pk=f.pk)


@pytest.fixture
def filed(fonds, accounts, tree):
    staff = accounts["women_staff"]
    items = [records_actions.capture_record(
        staff, unit=tree["women"], title=f"关于第{n}项工作的通知", responsible="示范县妇联", date=dt.date(2023, 3, n),
        doc_no=f"县妇发〔2023〕{n}号", retention="Y", org_code="BGS", pages=2) for n in range(1, 4)]
    records_actions.file_items(staff, [i.pk for i in items])
    return list(Item.objects.filter(pk__in=[i.pk for i in items]).order_by("piece_no"))


PRINT = {"kind": "catalogue", "year": 2023, "retention": "Y"}


def test_a_catalogue_print_job_runs_and_downloads_as_pdf(api, fonds, filed, django_capture_on_commit_callbacks):
    staff = api("women_staff")
    with django_capture_on_commit_callbacks(execute=True):
        r = staff.post(f"/records/fonds/{fonds.pk}/print-jobs", {**PRINT, "category": "WS"})
    assert r.status_code == 201, r.content.decode()
    job = body(r)
    assert job["kind"] == "records_catalogue" and job["status"] == "queued"
    assert job["params"] == {"print": "catalogue", "fonds": fonds.pk, "year": 2023, "retention": "Y", "category": "WS"}
    run_queued()
    done = body(staff.get(f"/jobs/{job['id']}"))
    assert done["status"] == "done" and done["rows"] == 3, done["message"]
    assert done["file_name"] == "归档文件目录-J001-2023-Y.pdf"
    r = staff.get(f"/jobs/{job['id']}/file")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert _content(r).startswith(b"%PDF-")
    assert chinese_error(api("party_office").get(f"/jobs/{job['id']}/file"), 404) == [NOT_VISIBLE]


def test_a_print_job_for_a_foreign_fonds_is_a_404(api, fonds, filed, tree):
    outsider = make_user("linxian")
    grant(outsider, "staff", tree["other_county"], all_lines=True)
    theirs = api(outsider).post(f"/records/fonds/{fonds.pk}/print-jobs", PRINT)
    nothing = api(outsider).post("/records/fonds/999999/print-jobs", PRINT)
    assert chinese_error(theirs, 404) == chinese_error(nothing, 404) == [NOT_VISIBLE]
    assert not ExportJob.objects.exists()


def test_bad_print_parameters_are_refused_in_chinese(api, fonds):
    staff = api("women_staff")
    url = f"/records/fonds/{fonds.pk}/print-jobs"
    assert "年度" in chinese_error(staff.post(url, {**PRINT, "year": 1800}), 400)[0]
    chinese_error(staff.post(url, {**PRINT, "kind": "labels"}), 422)
    chinese_error(staff.post(url, {**PRINT, "retention": "X"}), 422)
    assert not ExportJob.objects.exists()
