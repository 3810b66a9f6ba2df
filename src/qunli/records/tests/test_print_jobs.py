"""The 归档文件目录 / 归档章 PDF of a large class, rendered by the background worker
(records/printing.py through core/export_jobs.py's file kinds): small classes stay in the
request, large ones are offered to the worker, followed on the job page and downloaded by
their owner; the same PDF either way; scoping as for the request; failures in Chinese and no
file left behind. The worker really killed mid-render is in test_print_job_worker.py."""

import datetime as dt
import os
import subprocess
import sys

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from conftest import grant, make_user
from qunli.core import export_jobs, jobs
from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog, ExportJob
from qunli.core.tests.queue import run_queued
from qunli.records import actions, printing
from qunli.records.models import Item

Q = {"year": 2023, "retention": "Y", "category": "WS"}


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def filed(capture, accounts):
    """One class (J001 WS 2023 永久) of 36 filed items, long titles: several catalogue pages."""
    items = [
        capture(
            title=f"关于第{n}批城乡妇女两癌免费检查工作安排和经费保障有关事项的通知（第{n}号）",
            date=dt.date(2023, 1 + n % 12, 1 + n % 27),
        )
        for n in range(36)
    ]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    return list(Item.objects.filter(pk__in=[i.pk for i in items]).order_by("piece_no"))


def pdf_pages(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    return [pdf[i].get_textpage().get_text_bounded() for i in range(len(pdf))]


def _start(client, name, django_capture_on_commit_callbacks, fonds, **q):
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(reverse(f"records:{name}_pdf", args=[fonds.pk]), {**Q, **q})
    return resp


def _download(client, job) -> bytes:
    resp = client.get(reverse("core:export_download", args=[job.pk]))
    assert resp.status_code == 200, resp.status_code
    return b"".join(resp.streaming_content)


def test_a_small_class_prints_in_the_request_and_a_large_one_is_offered_to_the_worker(
    client_for, accounts, fonds, filed, settings
):
    c = client_for(accounts["women_staff"])
    settings.QUNLI_PRINT_SYNC_MAX_ITEMS = 36
    r = c.get(reverse("records:catalogue_pdf", args=[fonds.pk]), Q)
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    settings.QUNLI_PRINT_SYNC_MAX_ITEMS = 35
    r = c.get(reverse("records:catalogue_pdf", args=[fonds.pk]), Q)
    page = r.content.decode()
    assert r.status_code == 200 and r["Content-Type"].startswith("text/html")
    assert "共 <strong>36</strong> 件条目，超过 35 件" in page and "后台生成归档文件目录" in page
    assert not ExportJob.objects.exists()  # looking is not starting


@pytest.mark.parametrize("name", ["catalogue", "stamps"])
def test_the_job_renders_the_same_pdf_as_the_request_for_the_same_class(
    name, client_for, accounts, fonds, filed, settings, django_capture_on_commit_callbacks
):
    c = client_for(accounts["women_staff"])
    immediate = c.get(reverse(f"records:{name}_pdf", args=[fonds.pk]), Q)
    assert immediate["Content-Type"] == "application/pdf"

    settings.QUNLI_PRINT_SYNC_MAX_ITEMS = 10
    resp = _start(c, name, django_capture_on_commit_callbacks, fonds)
    job = ExportJob.objects.get()
    assert resp.status_code == 302 and resp["Location"] == reverse("core:export_job", args=[job.pk])
    assert job.kind == f"records_{name}" and job.params == {"print": name, "fonds": fonds.pk, **Q}
    assert "排队中" in c.get(resp["Location"]).content.decode()
    assert c.get(reverse("core:export_download", args=[job.pk])).status_code == 404  # not written yet

    run_queued()
    job.refresh_from_db()
    page = c.get(resp["Location"]).content.decode()
    assert job.status == ExportJob.Status.DONE and job.rows == 36, job.message
    assert "下载文件（36件）" in page and f"共36件条目、{len(pdf_pages(immediate.content))}页" in page
    background = _download(c, job)
    assert background.startswith(b"%PDF-")
    assert pdf_pages(background) == pdf_pages(immediate.content)
    if name == "catalogue":
        assert len(pdf_pages(background)) > 1
        text = "".join(pdf_pages(background))
        assert filed[0].archival_code in text and filed[-1].archival_code in text
    assert ChangeLog.objects.filter(action="core.start_export", object_id=str(job.pk)).count() == 1


def test_the_job_reports_each_page_as_it_is_laid_out(accounts, fonds, filed, tmp_path):
    job = printing.start_print_job(accounts["women_staff"], fonds, "catalogue", **Q)
    seen = []
    with open(tmp_path / "out.pdf", "wb") as fh:
        count, message = printing.write_job(job, fh, seen.append)
    pages = len(pdf_pages((tmp_path / "out.pdf").read_bytes()))
    assert count == 36 and seen == list(range(1, pages + 1)) and f"{pages}页" in message


def test_a_running_job_page_shows_the_pages_laid_out(client_for, accounts, fonds, filed):
    job = printing.start_print_job(accounts["women_staff"], fonds, "catalogue", **Q)
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING, worker=jobs.worker_identity(), message="共36件条目。"
    )
    jobs.report_progress(job.pk, 3)
    c = client_for(accounts["women_staff"])
    page = c.get(reverse("core:export_job", args=[job.pk]), {"partial": 1}, HTTP_HX_REQUEST="true")
    text = page.content.decode()
    assert "共36件条目。" in text and "已排版 <strong>3</strong> 页" in text
    full = c.get(reverse("core:export_job", args=[job.pk])).content.decode()
    assert "归档文件目录（PDF）：J001 示范县群团组织 2023年 永久 门类 WS" in full


def test_someone_without_rights_on_the_fonds_can_neither_start_nor_download_it(
    client_for, accounts, fonds, filed, tree, settings, django_capture_on_commit_callbacks
):
    settings.QUNLI_PRINT_SYNC_MAX_ITEMS = 10
    outsider = make_user("linxian")
    grant(outsider, "staff", tree["other_county"], all_lines=True)
    c = client_for(outsider)
    assert c.get(reverse("records:catalogue_pdf", args=[fonds.pk]), Q).status_code == 404
    assert _start(c, "catalogue", django_capture_on_commit_callbacks, fonds).status_code == 404
    with pytest.raises(PermissionDenied, match="权限范围"):
        printing.start_print_job(outsider, fonds, "catalogue", **Q)
    assert not ExportJob.objects.exists()

    owner = client_for(accounts["women_staff"])
    _start(owner, "catalogue", django_capture_on_commit_callbacks, fonds)
    run_queued()
    job = ExportJob.objects.get()
    c = client_for(outsider)
    assert c.get(reverse("core:export_job", args=[job.pk])).status_code == 404
    assert c.get(reverse("core:export_download", args=[job.pk])).status_code == 404
    # the owner's grant withdrawn after the job ran: the file is a 404 for the owner too
    owner = client_for(accounts["women_staff"])
    assert owner.get(reverse("core:export_download", args=[job.pk])).status_code == 200
    from qunli.core.models import Grant
    from qunli.core.scoping import forget_grants

    Grant.objects.filter(user=accounts["women_staff"]).delete()
    forget_grants(accounts["women_staff"])
    owner = client_for(accounts["women_staff"])
    assert owner.get(reverse("core:export_download", args=[job.pk])).status_code == 404


def test_a_grant_withdrawn_before_the_worker_runs_it_fails_in_chinese_with_no_file(
    accounts, fonds, filed, django_capture_on_commit_callbacks
):
    from qunli.core.models import Grant
    from qunli.core.scoping import forget_grants

    with django_capture_on_commit_callbacks(execute=True):
        job = printing.start_print_job(accounts["women_staff"], fonds, "catalogue", **Q)
    Grant.objects.filter(user=accounts["women_staff"]).delete()
    forget_grants(accounts["women_staff"])
    run_queued()
    job.refresh_from_db()
    assert job.status == ExportJob.Status.ERROR and job.message == printing.NO_FONDS
    assert not list(export_jobs.exports_dir().iterdir())


def test_a_crashed_job_shows_the_chinese_failure_and_leaves_no_partial_file(
    client_for, accounts, fonds, filed, settings, django_capture_on_commit_callbacks
):
    settings.QUNLI_PRINT_SYNC_MAX_ITEMS = 10
    c = client_for(accounts["women_staff"])
    _start(c, "catalogue", django_capture_on_commit_callbacks, fonds)
    job = ExportJob.objects.get()
    # the finished PDF cannot be put in place (a directory holds its name): the rename fails
    # after the whole document was written to the temporary file
    (export_jobs.exports_dir() / f"{job.pk}.pdf").mkdir()
    run_queued()
    job.refresh_from_db()
    assert job.status == ExportJob.Status.ERROR
    assert "生成归档文件目录（PDF）出错" in job.message and "未生成文件" in job.message
    page = c.get(reverse("core:export_job", args=[job.pk])).content.decode()
    assert "导出失败" in page and "未生成文件" in page and "下载文件" not in page
    assert not (export_jobs.exports_dir() / f"{job.pk}.pdf.part").exists()
    assert not jobs.heartbeat_path(job.pk).exists()
    assert c.get(reverse("core:export_download", args=[job.pk])).status_code == 404


def test_a_job_whose_worker_died_is_interrupted_without_its_partial_file_and_runs_again(
    client_for, accounts, fonds, filed, django_capture_on_commit_callbacks
):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with django_capture_on_commit_callbacks(execute=True):
        job = printing.start_print_job(accounts["women_staff"], fonds, "catalogue", **Q)
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING, worker=jobs.worker_identity(dead.pid)
    )
    partial = export_jobs.exports_dir() / f"{job.pk}.pdf.part"
    partial.write_bytes(b"%PDF-1.7 half a document")  # what the dead worker had written
    c = client_for(accounts["women_staff"])
    page = c.get(reverse("core:export_job", args=[job.pk])).content.decode()
    job.refresh_from_db()
    assert job.status == ExportJob.Status.INTERRUPTED and "任务中断" in page and "重新执行" in page
    assert "未生成任何文件" in job.message and "重新上传" not in job.message
    assert not partial.exists() and not os.listdir(export_jobs.exports_dir())
    with django_capture_on_commit_callbacks(execute=True):
        c.post(reverse("core:export_job", args=[job.pk]), {"action": "retry"})
    run_queued()
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE and _download(c, job).startswith(b"%PDF-")


def test_a_missing_font_fails_the_job_in_chinese(
    accounts, fonds, filed, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = printing.start_print_job(accounts["women_staff"], fonds, "stamps", **Q)
    settings.QUNLI_PDF_CJK_FONTS = ["没有这种字体"]
    run_queued()
    job.refresh_from_db()
    assert job.status == ExportJob.Status.ERROR and "fonts-noto-cjk" in job.message
    assert not list(export_jobs.exports_dir().iterdir())


def test_a_class_over_the_job_limit_is_refused_and_nothing_is_queued(
    accounts, fonds, filed, settings, client_for
):
    settings.QUNLI_PRINT_SYNC_MAX_ITEMS, settings.QUNLI_PRINT_JOB_MAX_ITEMS = 10, 30
    with pytest.raises(ActionError, match="共36件，超过一次生成 PDF 的上限30件"):
        printing.start_print_job(accounts["women_staff"], fonds, "catalogue", **Q)
    c = client_for(accounts["women_staff"])
    r = c.post(reverse("records:catalogue_pdf", args=[fonds.pk]), Q, follow=True)
    assert "上限30件" in r.content.decode() and not ExportJob.objects.exists()


def test_bad_print_parameters_are_refused_in_chinese(accounts, fonds, client_for):
    with pytest.raises(ActionError, match="请填写年度和保管期限"):
        printing.start_print_job(accounts["women_staff"], fonds, "catalogue", year="二〇二三", retention="Y")
    with pytest.raises(ActionError, match="请填写年度和保管期限"):
        printing.start_print_job(accounts["women_staff"], fonds, "catalogue", year=2023, retention="X")
    r = client_for(accounts["women_staff"]).post(
        reverse("records:stamps_pdf", args=[fonds.pk]), {"year": ""}, follow=True
    )
    assert "请填写年度和保管期限" in r.content.decode() and not ExportJob.objects.exists()


def test_the_offer_and_the_job_page_query_ceilings(
    client_for,
    accounts,
    fonds,
    filed,
    settings,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
):
    settings.QUNLI_PRINT_SYNC_MAX_ITEMS = 10
    c = client_for(accounts["women_staff"])
    url = reverse("records:catalogue_pdf", args=[fonds.pk])
    c.get(url, Q)  # warm the session and grants
    # session, user, grants (2), fonds, 门类 (the form checks the code), items, count, the shell's 3
    with django_assert_max_num_queries(11):
        c.get(url, Q)
    _start(c, "catalogue", django_capture_on_commit_callbacks, fonds)
    run_queued()
    job = ExportJob.objects.get()
    # session, user, job, fonds, grants (2: the menu leaves out data entry for read-only accounts), the shell's 3
    with django_assert_max_num_queries(9):
        c.get(reverse("core:export_job", args=[job.pk]))
