"""Real worker processes: ``qunli worker`` in a subprocess, on a database of its own (a SQLite
file, or a PostgreSQL database beside the test one when the suite runs on PostgreSQL), with the
database queue and with RQ on the local Redis. The process running an import is killed with
SIGKILL in the middle of the commit: not one row may remain, the job must be closed as
interrupted with a Chinese message, and running it again must import the whole file once."""

import json
import os
import signal
from pathlib import Path

import pytest

from qunli.core import jobs
from qunli.core.tests.worker_env import REDIS_URL, WorkerEnv, claim_redis_db, migrated_worker_env, wait_for

ROWS = 24000  # enough batches (2,000 rows each) that the kill lands mid-commit
pytestmark = pytest.mark.django_db  # (the session fixtures need the test database set up)

SETUP = """
import csv, datetime as dt, sys
from qunli.core.identifiers import make_id_number
from qunli.core.models import Grant, ImportJob, User
from qunli.core import import_views, jobs
from qunli.orgs.models import Level, Line, Unit
women = Line.objects.get(code="women")
root = Unit.objects.add_root({"name": "测试省", "level": Level.PROVINCE})
Unit.objects.add_child(Unit.objects.get(pk=root.pk), {"name": "测试妇联", "level": Level.PROVINCE, "line": women})
user = User.objects.create_user("staff", password="x", must_change_password=False)
Grant.objects.create(user=user, role="staff", unit=Unit.objects.get(pk=root.pk), all_lines=True)
path = import_views.imports_dir() / "roster.csv"
with open(path, "w", encoding="utf-8", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["姓名", "身份证号", "所属单位", "联系电话"])
    for i in range(int(sys.argv[1])):
        w.writerow([f"人员{i}", make_id_number("430121", dt.date(1950, 1, 1) + dt.timedelta(days=i % 20000),
                    i // 20000), "测试妇联", f"139{i:08d}"])
job = ImportJob.objects.create(kind="persons", user=user, file_name="roster.csv", file_path=str(path),
                               file_sm3=import_views._sm3(path), status=ImportJob.Status.RUNNING, commit=True)
jobs.enqueue(jobs.import_job_task, job)
print("JOB", job.pk)
"""

STATE = """
import json, sys
from qunli.core.models import ImportJob
from qunli.people.models import Person
job = ImportJob.objects.get(pk=sys.argv[1])
print("STATE", json.dumps({"status": job.status, "message": job.message, "worker": job.worker,
                           "persons": Person.objects.count(), "created": job.created_rows, "attempts": job.attempts,
                           "task_id": job.task_id}))
"""

REQUEUE = """
import sys
from qunli.core import jobs
from qunli.core.models import ImportJob
print("REQUEUED", jobs.requeue(ImportJob.objects.get(pk=sys.argv[1])))
"""

TASK_ROW = """
import sys
from django_tasks_db.models import DBTaskResult
print("TASK", DBTaskResult.objects.get(id=sys.argv[1]).status)
"""


def _state(env: WorkerEnv, job_id) -> dict:
    out = env.script(STATE, job_id)
    return json.loads(out.split("STATE ", 1)[1])


def _redis_or_skip():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as e:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {e}")


@pytest.fixture(params=["database", "redis"])
def worker_env(request, tmp_path):
    redis_url, release = REDIS_URL, None
    if request.param == "redis":
        _redis_or_skip()
        redis_url, release = claim_redis_db()
    try:
        with migrated_worker_env(tmp_path, request.param, redis_url) as env:
            yield env
    finally:
        if release:
            release()


def _beat(env: WorkerEnv, job_id) -> dict:
    try:
        return json.loads((env.data_dir / "jobs" / f"{job_id}.beat").read_text())
    except (OSError, ValueError):
        return {}


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _alive(pid: int) -> bool:
    fields = jobs._proc_stat(pid)
    return fields is not None and fields[0] != "Z"  # a zombie (killed, not yet reaped) counts as gone


def test_a_worker_killed_mid_import_leaves_no_rows_and_the_job_runs_again(worker_env):
    env = worker_env
    job_id = env.script(SETUP, ROWS).split("JOB ", 1)[1].strip()
    worker = env.worker()
    try:
        beat = wait_for(lambda: (b := _beat(env, job_id)).get("rows", 0) >= 2000 and b, "the first written batch")
        victim = int(beat["worker"].split(":")[1])  # the process running the task (RQ: the work horse)
        children = _children(victim)
        os.kill(victim, signal.SIGKILL)
        # the import's validating processes die with it (PR_SET_PDEATHSIG), nothing is left behind
        wait_for(lambda: not _alive(victim) and not any(_alive(c) for c in children), "the killed processes to go")
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    state = _state(env, job_id)
    assert state["persons"] == 0, "a killed import must leave no partial rows"
    assert state["status"] in ("running", "interrupted")

    env.cli("worker", "--burst")  # a worker starting up closes what the dead one left
    state = _state(env, job_id)
    assert state["status"] == "interrupted" and "未写入任何数据" in state["message"], state
    assert state["persons"] == 0
    if env.env["QUNLI_JOBS"] == "database":  # the queue's own row is not left "running" either
        assert "FAILED" in env.script(TASK_ROW, state["task_id"])

    assert "REQUEUED True" in env.script(REQUEUE, job_id)
    env.cli("worker", "--burst")
    state = _state(env, job_id)
    assert state["status"] == "done", state
    assert state["persons"] == ROWS and state["created"] == ROWS and state["attempts"] == 2
