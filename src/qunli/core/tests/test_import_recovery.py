"""A commit whose worker process died leaves nothing to clean by hand."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from qunli.core.models import ImportJob


def test_a_job_no_worker_took_is_closed_with_a_clear_message(client_for, accounts, tmp_path, settings):
    settings.DATA_DIR = tmp_path  # no worker heartbeat there
    staff = accounts["women_staff"]
    job = ImportJob.objects.create(kind="persons", user=staff, file_name="花名册.csv",
                                   file_path=str(tmp_path / "gone.csv"), file_sm3="0" * 64,
                                   status=ImportJob.Status.RUNNING, message="正在导入…",
                                   created_at=timezone.now() - dt.timedelta(minutes=30))
    page = client_for(staff).get(reverse("core:import_job", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.INTERRUPTED
    assert "未写入任何数据" in page.content.decode() and "重新执行" in page.content.decode()


def test_a_job_that_is_still_moving_stays_running(client_for, accounts, tmp_path):
    staff = accounts["women_staff"]
    job = ImportJob.objects.create(kind="persons", user=staff, file_name="花名册.csv",
                                   file_path=str(tmp_path / "x.csv"), file_sm3="0" * 64,
                                   status=ImportJob.Status.RUNNING, message="正在导入…")
    client_for(staff).get(reverse("core:import_job", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING
