"""Background jobs (core/jobs.py): a large import goes through the queue and a worker, a task
delivered twice runs once, a dead worker's job is closed with a Chinese message and can be run
again. The crash test and the Redis test use real worker processes (tests/…_workers.py)."""

import csv
import datetime as dt
import io
import subprocess
import sys
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from qunli.core import import_views, jobs
from qunli.core.identifiers import make_id_number
from qunli.core.models import ImportJob
from qunli.core.tests.queue import run_queued
from qunli.people.models import Person


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def roster(n: int, unit: str = "东风村妇联") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["姓名", "身份证号", "所属单位", "联系电话"])
    for i in range(n):
        w.writerow([f"人员{i}", make_id_number("430121", dt.date(1960, 1, 1) + dt.timedelta(days=i), i % 999),
                    unit, f"138{i:08d}"])
    return buf.getvalue().encode()


def _upload(client, data: bytes, name="名单.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(reverse("core:import_start"), {"kind": "persons", "file": SimpleUploadedFile(name, data)})


@pytest.fixture
def big_files(settings):
    settings.QUNLI_IMPORT_SYNC_MAX_BYTES = 100  # every file counts as large: it goes to the queue


def test_a_large_import_is_queued_then_run_by_the_worker(client_for, accounts, big_files,
                                                         django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    client = client_for(accounts["women_staff"])
    with django_capture_on_commit_callbacks(execute=True):
        resp = _upload(client, roster(30))
    job = ImportJob.objects.get()
    assert resp.status_code == 302 and job.status == ImportJob.Status.RUNNING and not job.worker
    assert DBTaskResult.objects.filter(id=job.task_id).exists()  # in the database queue
    page = client.get(reverse("core:import_job", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert "排队中" in page.content.decode()

    run_queued()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATED and job.total_rows == 30 and job.attempts == 1
    assert Person.objects.count() == 0  # a dry run writes nothing

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("core:import_job", args=[job.pk]), {"action": "confirm"})
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING and job.commit
    run_queued()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.created_rows == 30
    assert Person.objects.count() == 30
    assert "已导入30行" in client.get(reverse("core:import_job", args=[job.pk])).content.decode()


def test_a_task_delivered_twice_runs_once(accounts, tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(roster(5))
    job = ImportJob.objects.create(kind="persons", user=accounts["women_staff"], file_name="a.csv",
                                   file_path=str(path), file_sm3=import_views._sm3(path),
                                   status=ImportJob.Status.RUNNING, commit=True)
    assert jobs.import_job_task.call(str(job.pk)) == ImportJob.Status.DONE
    assert jobs.import_job_task.call(str(job.pk)) == "skipped"
    assert Person.objects.count() == 5


def test_a_job_claimed_by_a_dead_local_process_is_interrupted_at_once_and_can_be_run_again(
        client_for, accounts, tmp_path, django_capture_on_commit_callbacks):

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "a.csv"
    path.write_bytes(roster(7))
    job = ImportJob.objects.create(kind="persons", user=accounts["women_staff"], file_name="a.csv",
                                   file_path=str(path), file_sm3=import_views._sm3(path), commit=True,
                                   status=ImportJob.Status.RUNNING, worker=jobs.worker_identity(dead.pid))
    client = client_for(accounts["women_staff"])
    page = client.get(reverse("core:import_job", args=[job.pk])).content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.INTERRUPTED
    assert "未写入任何数据" in page and "重新执行" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("core:import_job", args=[job.pk]), {"action": "retry"})
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING and job.worker == ""
    run_queued()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.attempts == 1 and Person.objects.count() == 7


def test_a_running_job_of_a_live_worker_is_left_alone(accounts, tmp_path):
    job = ImportJob.objects.create(kind="persons", user=accounts["women_staff"], file_name="a.csv",
                                   file_path=str(tmp_path / "a.csv"), file_sm3="0" * 64,
                                   status=ImportJob.Status.RUNNING, worker=jobs.worker_identity(),
                                   created_at=timezone.now() - dt.timedelta(hours=2))
    assert jobs.recover_interrupted() == 0
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING


def test_a_queued_job_waits_while_a_worker_is_alive(accounts, tmp_path, settings):
    job = ImportJob.objects.create(kind="persons", user=accounts["women_staff"], file_name="a.csv",
                                   file_path=str(tmp_path / "a.csv"), file_sm3="0" * 64,
                                   status=ImportJob.Status.RUNNING,
                                   created_at=timezone.now() - dt.timedelta(hours=2))
    jobs._touch(jobs.worker_beat_path(), {})  # a live worker (busy with another job)
    assert jobs.recover_job(job) is False
    jobs.worker_beat_path().unlink()
    assert jobs.recover_job(job) is True
    assert job.status == ImportJob.Status.INTERRUPTED and "qunli worker" in job.message


def test_the_retry_button_is_refused_for_a_job_that_did_not_break(client_for, accounts, tmp_path):
    job = ImportJob.objects.create(kind="persons", user=accounts["women_staff"], file_name="a.csv",
                                   file_path=str(tmp_path / "a.csv"), file_sm3="0" * 64,
                                   status=ImportJob.Status.FAILED, message="有错误")
    client = client_for(accounts["women_staff"])
    client.post(reverse("core:import_job", args=[job.pk]), {"action": "retry"})
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED


def test_another_account_cannot_see_or_retry_a_job(client_for, accounts, tmp_path):
    job = ImportJob.objects.create(kind="persons", user=accounts["women_staff"], file_name="a.csv",
                                   file_path=str(tmp_path / "a.csv"), file_sm3="0" * 64,
                                   status=ImportJob.Status.INTERRUPTED)
    client = client_for(accounts["party_office"])
    assert client.get(reverse("core:import_job", args=[job.pk])).status_code == 404
    assert client.post(reverse("core:import_job", args=[job.pk]), {"action": "retry"}).status_code == 404
    job.refresh_from_db()
    assert job.status == ImportJob.Status.INTERRUPTED


def test_a_small_file_is_checked_in_the_request_by_a_named_process(client_for, accounts):
    client = client_for(accounts["women_staff"])
    _upload(client, roster(3))
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.VALIDATED and not job.task_id
    assert job.worker == jobs.worker_identity()  # a request killed mid-way is seen as interrupted


def test_a_killed_worker_left_as_a_zombie_counts_as_gone():
    """Killed and not yet reaped (its parent died too, and init reaps late): same pid, same
    start time, state Z — the job it held must not wait for it."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ident = jobs.worker_identity(child.pid)
    assert jobs.worker_alive(ident) is True
    child.kill()
    wait_until = time.monotonic() + 30  # a guard against hanging, not a timing assertion
    while jobs._proc_stat(child.pid)[0] != "Z":
        assert time.monotonic() < wait_until
        time.sleep(0.01)
    try:
        assert jobs.worker_alive(ident) is False  # not reaped yet: a zombie
    finally:
        child.wait()
    assert jobs.worker_alive(ident) is False


def test_a_reused_pid_is_not_the_worker_that_died():
    me = jobs.worker_identity()
    host, pid, start = me.rsplit(":", 2)
    assert jobs.worker_alive(me) is True
    assert jobs.worker_alive(f"{host}:{pid}:{int(start) + 1}") is False  # this pid, another process
