"""Re-importable person exports (core/export_jobs.py), run by the background worker."""

import io

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from qunli.core import export_jobs
from qunli.core.actions import ActionError
from qunli.core.identifiers import id_birth_date, id_gender
from qunli.core.imports import run_import
from qunli.core.models import AccessLog, ExportJob
from qunli.core.tests.queue import run_queued
from qunli.people.models import Person


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def people(tree, person_factory):
    out = []
    for i, unit in enumerate(["village_women", "town_women", "women", "village_women"]):
        p = person_factory(unit=tree[unit], name=f"人员{i}", phone=f"1380000000{i}")
        p.set_sensitive("address", f"城关镇东风村{i}组")
        p.ethnicity, p.political_status, p.education, p.workplace = "苗族", "cpc", "大学本科", f"城关镇中学{i}"
        p.birth_date, p.gender = id_birth_date(p.reveal("id_number")), id_gender(p.reveal("id_number"))
        p.save()
        out.append(p)
    foreign = person_factory(unit=tree["other_women"], name="邻县秘密人员", phone="13900000009")
    no_id = Person(unit=tree["village_women"], name="无证人员")
    no_id.save()
    return out, foreign


def _export(user, capture, **kw) -> ExportJob:
    with capture(execute=True):
        job = export_jobs.start_export(user, "persons", **kw)
    run_queued()
    job.refresh_from_db()
    return job


def _identity(p: Person) -> tuple:
    return (p.name, p.reveal("id_number"), p.reveal("phone"), p.reveal("address"), p.unit_id, p.ethnicity,
            p.political_status, p.education, p.workplace, p.birth_date, p.gender)


def _sheet(path) -> list[list]:
    ws = openpyxl.load_workbook(path, read_only=True).active
    return [[c if c is not None else "" for c in row] for row in ws.iter_rows(values_only=True)]


def test_an_unmasked_person_export_imports_back_as_the_same_people(accounts, people,
                                                                   django_capture_on_commit_callbacks):
    mine, _ = people
    staff = accounts["women_staff"]
    before = sorted(_identity(p) for p in Person.objects.filter(pk__in=[p.pk for p in mine]))
    job = _export(staff, django_capture_on_commit_callbacks, unmasked=True, purpose="换届核对")
    assert job.status == ExportJob.Status.DONE and job.rows == 4, job.message
    assert "1名人员无身份证号" in job.message

    Person.objects.filter(pk__in=[p.pk for p in mine]).delete()
    out = run_import("persons", job.file_path, user=staff, file_name="导出.xlsx", commit=True)
    assert out.ok and out.created_rows == 4, (out.message, out.errors[:3])
    after = sorted(_identity(p) for p in Person.objects.exclude(name__in=["邻县秘密人员", "无证人员"]))
    assert after == before


def test_an_unmasked_export_writes_exactly_one_access_log_row(accounts, people, django_capture_on_commit_callbacks):
    n = AccessLog.objects.count()
    job = _export(accounts["women_staff"], django_capture_on_commit_callbacks, unmasked=True, purpose="换届核对")
    rows = list(AccessLog.objects.order_by("seq")[n:])
    assert len(rows) == 1
    assert (rows[0].object_type, rows[0].object_id) == ("core.exportjob", str(job.pk))
    assert rows[0].fields == "id_number,phone,address" and rows[0].purpose == "换届核对"
    assert rows[0].actor == accounts["women_staff"]


def test_a_masked_export_shows_masks_logs_no_access_and_is_refused_on_import(
        accounts, people, django_capture_on_commit_callbacks):
    mine, _ = people
    n = AccessLog.objects.count()
    job = _export(accounts["leader"], django_capture_on_commit_callbacks)
    assert job.status == ExportJob.Status.DONE and AccessLog.objects.count() == n
    rows = _sheet(job.file_path)
    assert rows[0][:4] == ["姓名", "身份证号", "所属单位", "联系电话"]
    ids = {r[1] for r in rows[1:]}
    assert all("*" in v for v in ids) and mine[0].reveal("id_number") not in ids
    count = Person.objects.count()
    out = run_import("persons", job.file_path, user=accounts["women_staff"], file_name="脱敏.xlsx", commit=True)
    assert not out.ok and out.errors and "身份证号" in out.errors[0]["column"]
    assert Person.objects.count() == count


def test_a_read_only_account_cannot_export_unmasked(accounts, people):
    with pytest.raises(PermissionDenied):
        export_jobs.start_export(accounts["leader"], "persons", unmasked=True, purpose="核对")
    assert not ExportJob.objects.exists()


def test_an_unmasked_export_needs_a_purpose(accounts, people):
    with pytest.raises(ActionError):
        export_jobs.start_export(accounts["women_staff"], "persons", unmasked=True, purpose=" ")
    assert not ExportJob.objects.exists()


def test_administrators_cannot_export_business_data(accounts):
    with pytest.raises(PermissionDenied):
        export_jobs.start_export(accounts["sysadmin"], "persons")


def test_nothing_outside_the_grant_is_exported(accounts, people, django_capture_on_commit_callbacks):
    for unmasked in (False, True):
        job = _export(accounts["party_office"], django_capture_on_commit_callbacks, unmasked=unmasked,
                      purpose="核对")
        text = repr(_sheet(job.file_path))
        assert "人员0" in text and "邻县" not in text


def test_a_unit_limits_the_export_to_its_subtree(accounts, tree, people, django_capture_on_commit_callbacks):
    job = _export(accounts["women_staff"], django_capture_on_commit_callbacks, unit=tree["village"])
    names = sorted(r[0] for r in _sheet(job.file_path)[1:])
    assert names == ["人员0", "人员3"]


def test_the_export_pages_run_a_job_and_only_the_owner_downloads_it(client_for, accounts, people,
                                                                    django_capture_on_commit_callbacks):
    client = client_for(accounts["women_staff"])
    assert "导出完整身份证号" in client.get(reverse("core:export_start")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(reverse("core:export_start"), {"kind": "persons", "unmasked": "on", "purpose": "核对"})
    job = ExportJob.objects.get()
    assert resp.status_code == 302 and resp["Location"] == reverse("core:export_job", args=[job.pk])
    page = client.get(reverse("core:export_job", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert "排队中" in page.content.decode()
    assert client.get(reverse("core:export_download", args=[job.pk])).status_code == 404  # not written yet
    run_queued()
    assert "下载文件（4行）" in client.get(reverse("core:export_job", args=[job.pk])).content.decode()
    resp = client.get(reverse("core:export_download", args=[job.pk]))
    assert resp.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(resp.streaming_content)), read_only=True)
    assert wb.active.max_row == 5  # (reading streaming_content to the end closed the response)

    other = client_for(accounts["party_office"])
    assert other.get(reverse("core:export_job", args=[job.pk])).status_code == 404
    assert other.get(reverse("core:export_download", args=[job.pk])).status_code == 404


def test_a_read_only_account_is_told_why_it_cannot_unmask(client_for, accounts, people):
    client = client_for(accounts["leader"])
    page = client.get(reverse("core:export_start")).content.decode()
    assert "只能导出脱敏信息" in page and "导出完整身份证号" not in page
    resp = client.post(reverse("core:export_start"), {"kind": "persons", "unmasked": "on", "purpose": "核对"})
    assert "没有导出完整敏感信息的权限" in resp.content.decode() and not ExportJob.objects.exists()


def test_an_export_whose_worker_died_leaves_no_file_and_runs_again(client_for, accounts, people,
                                                                   django_capture_on_commit_callbacks):
    import subprocess
    import sys

    from qunli.core import jobs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    staff = accounts["women_staff"]
    job = ExportJob.objects.create(kind="persons", user=staff, status=ExportJob.Status.RUNNING,
                                   worker=jobs.worker_identity(dead.pid))
    partial = export_jobs.exports_dir() / f"{job.pk}.xlsx.part"
    partial.write_bytes(b"half a workbook")
    client = client_for(staff)
    page = client.get(reverse("core:export_job", args=[job.pk])).content.decode()
    job.refresh_from_db()
    assert job.status == ExportJob.Status.INTERRUPTED and "重新执行" in page and not partial.exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("core:export_job", args=[job.pk]), {"action": "retry"})
    run_queued()
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE and job.rows == 4 and job.attempts == 1
