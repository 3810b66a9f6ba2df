"""A real ``qunli worker`` (a subprocess, on a database of its own, the database queue) is
killed with SIGKILL while weasyprint lays out a large 归档文件目录: the job must be closed as
interrupted with a Chinese message, the half-written file must be gone, and running the job
again must produce the whole PDF."""

import json
import os
import signal

import pytest

from qunli.core.tests.worker_env import WorkerEnv, migrated_worker_env, wait_for

ITEMS = 400  # some 12 pages: the kill lands after the first page is laid out, long before the last
pytestmark = pytest.mark.django_db  # (the session fixtures need the test database set up)

SETUP = """
import datetime as dt, sys
from qunli.core.models import Grant, User
from qunli.orgs.models import Level, Line, Unit
from qunli.records import actions, printing
root = Unit.objects.add_root({"name": "示范县", "level": Level.COUNTY})
women = Unit.objects.get(pk=root.pk).add_child(name="示范县妇联", level=Level.COUNTY,
                                               line=Line.objects.get(code="women"))
user = User.objects.create_user("fulian", password="x", must_change_password=False)
Grant.objects.create(user=user, role="staff", unit=Unit.objects.get(pk=root.pk), all_lines=True)
fonds = actions.create_fonds(user, unit=Unit.objects.get(pk=root.pk), code="J001", name="示范县群团组织")
ids = [actions.capture_record(user, unit=women, title=f"关于第{n}批妇女儿童工作经费保障有关事项的通知",
                              responsible="示范县妇联", date=dt.date(2023, 1 + n % 12, 1), retention="Y",
                              doc_no=f"县妇发〔2023〕{n}号", pages=2).pk for n in range(int(sys.argv[1]))]
actions.file_items(user, ids)
job = printing.start_print_job(user, fonds, "catalogue", year=2023, retention="Y", category="WS")
print("JOB", job.pk)
"""

STATE = """
import json, sys
from qunli.core.models import ExportJob
job = ExportJob.objects.get(pk=sys.argv[1])
print("STATE", json.dumps({"status": job.status, "message": job.message, "rows": job.rows,
                           "file": job.file_path, "attempts": job.attempts}))
"""

REQUEUE = """
import sys
from qunli.core import jobs
from qunli.core.models import ExportJob
print("REQUEUED", jobs.requeue(ExportJob.objects.get(pk=sys.argv[1])))
"""


@pytest.fixture
def worker_env(tmp_path):
    with migrated_worker_env(tmp_path) as env:
        yield env


def _state(env: WorkerEnv, job_id) -> dict:
    return json.loads(env.script(STATE, job_id).split("STATE ", 1)[1])


def _beat(env: WorkerEnv, job_id) -> dict:
    try:
        return json.loads((env.data_dir / "jobs" / f"{job_id}.beat").read_text())
    except (OSError, ValueError):
        return {}


def test_a_worker_killed_mid_render_leaves_no_file_and_the_job_runs_again(worker_env):
    import pypdfium2 as pdfium

    env = worker_env
    job_id = env.script(SETUP, ITEMS).split("JOB ", 1)[1].strip()
    exports = env.data_dir / "exports"
    worker = env.worker()
    try:
        beat = wait_for(
            lambda: (b := _beat(env, job_id)).get("rows", 0) >= 1 and b, "the first page laid out"
        )
        assert (exports / f"{job_id}.pdf.part").exists()  # the temporary file the worker writes into
        os.kill(int(beat["worker"].split(":")[1]), signal.SIGKILL)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    assert _state(env, job_id)["status"] == "running"

    env.cli("worker", "--burst")  # a worker starting up closes what the dead one left
    state = _state(env, job_id)
    assert state["status"] == "interrupted" and "任务中断" in state["message"], state
    assert not state["file"] and not list(exports.iterdir()), "no partial PDF may remain"

    assert "REQUEUED True" in env.script(REQUEUE, job_id)
    env.cli("worker", "--burst")
    state = _state(env, job_id)
    assert state["status"] == "done" and state["rows"] == ITEMS and state["attempts"] == 2, state
    pdf = pdfium.PdfDocument(state["file"])
    assert len(pdf) > 1 and f"{len(pdf)}页" in state["message"]
    assert "J001-WS·2023-Y-0400" in pdf[len(pdf) - 1].get_textpage().get_text_bounded()
