"""Background jobs (DESIGN.md mechanism 5): long imports and exports run in `qunli worker`,
queued through Django's tasks API (the ``django-tasks`` backport on Django 5.2).

The queue is chosen by ``QUNLI_JOBS``: ``database`` (default; django-tasks-db, no extra
service, works on SQLite) or ``redis`` (django-tasks-rq: RQ workers, many machines). The queue
only carries the job's id; the job's state lives in its own row (``ImportJob`` /
``ExportJob``), which is the single truth the UI reads.

Lifecycle of a job row: queued (``worker`` empty) → claimed by one worker with a conditional
UPDATE (so a task delivered twice runs once) → finished (done / failed / error) — or
**interrupted** when its worker process died. A worker is named ``host:pid:start-time``; while
it runs a job it touches a heartbeat file every few seconds (``DATA_DIR/jobs/``), and each
worker process also keeps a heartbeat of its own. ``recover_interrupted`` closes a claimed job
whose worker is gone — at once when the worker ran on this machine and its process no longer
exists, otherwise after ``QUNLI_JOB_STALE_SECONDS`` without a heartbeat — and a queued job
that no live worker could pick up. It runs when a worker starts and whenever a job page is
looked at, so a crash never needs hand cleaning.

Outbound notifications (SMS, WeChat) go through the same queue as a short task,
``dispatch_notifications_task``, carrying the ids of the inbox rows to send; it claims each
row once (``core.notifications.dispatch_outbound``) and runs at the highest priority on the database
queue, so it overtakes queued imports and exports (not one a worker is already running; RQ on
Redis has no priorities: there it is first in, first out).

Why nothing is left to clean: an import commits in ONE database transaction, and the job row
is set to done inside that same transaction (``run_import(on_commit=…)``). A worker killed
mid-import therefore leaves the database exactly as before (the transaction dies with the
connection) and the job row still "running" — which recovery turns into "interrupted" with a
Chinese message and a 重新执行 button. An export writes to a temporary file and renames it
only when complete; an interrupted export leaves no file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

try:  # Django 6 ships the tasks framework; on 5.2 the django-tasks backport provides it
    from django.tasks import task  # type: ignore[import-not-found]
    from django.tasks.base import TASK_MAX_PRIORITY  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the Django version
    from django_tasks import task
    from django_tasks.base import TASK_MAX_PRIORITY

HEARTBEAT_EVERY_S = 2.0
INTERRUPTED_MESSAGE = "任务中断（后台处理进程意外退出），未写入任何数据。可点击“重新执行”再试，或重新上传文件。"
INTERRUPTED_EXPORT_MESSAGE = "任务中断（后台处理进程意外退出），未生成任何文件。可点击“重新执行”再试。"
NO_WORKER_MESSAGE = "长时间没有后台处理进程接手该任务（请管理员检查 qunli worker 是否在运行），未写入任何数据。可点击“重新执行”再试。"


# --- worker identity and heartbeats ---------------------------------------------------------

def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first, start time at
    index 19); None where /proc or the process is not there."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _proc_start(pid: int) -> str:
    """The process's start time (clock ticks since boot), so a reused pid is not mistaken
    for the worker that died; "" where /proc is not there."""
    fields = _proc_stat(pid)
    return fields[19] if fields else ""


def worker_identity(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{_proc_start(pid)}"


def worker_alive(ident: str) -> bool | None:
    """True/False for a worker of this machine; None when it ran elsewhere (unknowable here)."""
    try:
        host, pid, start = ident.rsplit(":", 2)
        pid = int(pid)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _proc_stat(pid)
    if fields is None:
        return not start  # no /proc to tell: trust the signal
    if fields[0] == "Z":
        # killed and not reaped: its parent died with it, and an init that reaps slowly (a
        # container's, this VM's) keeps the zombie — with the same pid and start time
        return False
    return fields[19] == start if start else True


def jobs_dir() -> Path:
    d = Path(settings.DATA_DIR) / "jobs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def heartbeat_path(job_id) -> Path:
    return jobs_dir() / f"{job_id}.beat"


def _touch(path: Path, payload: dict | None = None) -> None:
    with contextlib.suppress(OSError):
        if payload is None and path.exists():
            os.utime(path)
        else:
            tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(payload or {}))
            os.replace(tmp, path)


def beat_age(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None


def read_beat(job_id) -> dict:
    try:
        return json.loads(heartbeat_path(job_id).read_text())
    except (OSError, ValueError):
        return {}


def report_progress(job_id, rows: int, total: int | None = None) -> None:
    """Progress of a running job (rows done), read by the job page."""
    payload = {"rows": rows, "worker": worker_identity()}
    if total is not None:
        payload["total"] = total
    _touch(heartbeat_path(job_id), payload)


class Heartbeat:
    """Touches a file every HEARTBEAT_EVERY_S seconds from a daemon thread while a block runs."""

    def __init__(self, path: Path, payload: dict | None = None):
        self.path, self.payload = path, payload
        self._stop = threading.Event()

    def __enter__(self):
        _touch(self.path, self.payload or {})
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{self.path.name}")
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(HEARTBEAT_EVERY_S):
            _touch(self.path)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


def worker_beat_path(ident: str | None = None) -> Path:
    d = jobs_dir() / "workers"
    d.mkdir(exist_ok=True)
    return d / (ident or worker_identity()).replace(":", "_")


def live_workers() -> int:
    stale = settings.QUNLI_JOB_STALE_SECONDS
    d = jobs_dir() / "workers"
    if not d.exists():
        return 0
    return sum(1 for p in d.iterdir() if (beat_age(p) or 1e9) < stale)


# --- the tasks ------------------------------------------------------------------------------

def _claim(model, job_id, active) -> object | None:
    """Take a queued job for this process; None when another worker has it or it is over."""
    ident = worker_identity()
    n = model.objects.filter(pk=job_id, status__in=active, worker="").update(
        worker=ident, attempts=F("attempts") + 1)
    return model.objects.get(pk=job_id) if n else None


@task()
def import_job_task(job_id: str) -> str:
    """Dry run or commit of one ImportJob (its ``commit`` flag says which)."""
    from .import_views import process_job
    from .models import ImportJob

    job = _claim(ImportJob, job_id, [ImportJob.Status.RUNNING])
    if job is None:
        return "skipped"
    with Heartbeat(heartbeat_path(job.pk), {"rows": 0, "worker": job.worker}):
        job = process_job(job, job.commit)
    heartbeat_path(job.pk).unlink(missing_ok=True)
    return job.status


@task()
def export_job_task(job_id: str) -> str:
    from .export_jobs import FILE_KINDS, run_export
    from .models import ExportJob

    job = _claim(ExportJob, job_id, [ExportJob.Status.QUEUED])
    if job is None:
        return "skipped"
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING,
                                               message="" if job.kind in FILE_KINDS else "正在导出…")
    job.refresh_from_db()
    try:
        with Heartbeat(heartbeat_path(job.pk), {"rows": 0, "worker": job.worker}):
            job = run_export(job)
    finally:  # a failed export is closed by run_export; its progress file goes too
        heartbeat_path(job.pk).unlink(missing_ok=True)
    return job.status


# The database queue orders by priority; RQ has none (and refuses the argument), so on Redis
# the notifications wait their turn like any task.
_NOTIFY_PRIORITY = {} if settings.QUNLI_JOBS == "redis" else {"priority": TASK_MAX_PRIORITY}


@task(**_NOTIFY_PRIORITY)
def dispatch_notifications_task(notification_ids: list[int]) -> int:
    """Hand these inbox rows to the outbound backends (SMS, WeChat, log). Idempotent: a row
    already claimed by an earlier run is skipped. Returns the number of messages recorded."""
    from .notifications import dispatch_outbound

    return len(dispatch_outbound(notification_ids))


def enqueue(task_obj, job) -> None:
    """Queue ``job`` once the current transaction (if any) has committed, so a worker never
    looks for a row it cannot see yet."""
    model = type(job)

    def send():
        try:
            result = task_obj.enqueue(str(job.pk))
        except Exception as e:  # the queue is down (Redis unreachable …): say so on the job
            model.objects.filter(pk=job.pk).update(
                status="error", finished_at=timezone.now(),
                message=f"无法提交后台任务（{type(e).__name__}），未写入任何数据，请稍后重试或联系管理员。")
            return
        model.objects.filter(pk=job.pk).update(task_id=str(result.id)[:64])

    model.objects.filter(pk=job.pk).update(queued_at=timezone.now())

    transaction.on_commit(send, robust=False)


# --- recovery -------------------------------------------------------------------------------

def _fail_task_row(task_id: str) -> None:
    """The database queue's own row of a task whose worker died stays "RUNNING" forever;
    mark it failed too (the job row carries the user's message)."""
    if not task_id or settings.QUNLI_JOBS == "redis":
        return
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(id=task_id, status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.FAILED, finished_at=timezone.now())


def job_is_dead(job, now: float | None = None) -> str | None:
    """Why a running/queued job will never finish by itself ("interrupted", "no_worker"), or
    None while it may still."""
    stale = settings.QUNLI_JOB_STALE_SECONDS
    now = now or time.time()
    if job.worker:
        alive = worker_alive(job.worker)
        if alive is False:
            return "interrupted"
        age = beat_age(heartbeat_path(job.pk))
        if alive is None and (age is None or age > stale):
            return "interrupted"
        return None
    waited = now - (job.queued_at or job.created_at).timestamp()
    if waited > stale and not live_workers():
        return "no_worker"
    return None


def recover_job(job) -> bool:
    """Close ``job`` if its worker is gone; True when it did."""
    from .models import ExportJob, ImportJob

    why = job_is_dead(job)
    if why is None:
        return False
    model = type(job)
    running = ImportJob.Status.RUNNING if model is ImportJob else [ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]
    running = running if isinstance(running, list) else [running]
    status = ImportJob.Status.INTERRUPTED if model is ImportJob else ExportJob.Status.INTERRUPTED
    n = model.objects.filter(pk=job.pk, status__in=running, worker=job.worker).update(
        status=status, finished_at=timezone.now(),
        message=(INTERRUPTED_MESSAGE if model is ImportJob else INTERRUPTED_EXPORT_MESSAGE) if why == "interrupted"
        else NO_WORKER_MESSAGE)
    if n:
        _fail_task_row(job.task_id)
        heartbeat_path(job.pk).unlink(missing_ok=True)
        if model is ExportJob:
            from .export_jobs import discard_partial

            discard_partial(job)
    job.refresh_from_db()
    return bool(n)


def recover_interrupted() -> int:
    """Close every job whose worker died (run when a worker starts)."""
    from .models import ExportJob, ImportJob

    n = 0
    for job in ImportJob.objects.filter(status=ImportJob.Status.RUNNING):
        n += recover_job(job)
    for job in ExportJob.objects.filter(status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]):
        n += recover_job(job)
    return n


def requeue(job, **fields) -> bool:
    """Run an interrupted job again (重新执行): back to the queue as it was."""
    from .models import ExportJob, ImportJob

    model = type(job)
    if model is ImportJob:
        target, frm = ImportJob.Status.RUNNING, ImportJob.Status.INTERRUPTED
        task_obj = import_job_task
        fields.setdefault("message", "排队中，等待后台处理…")
        fields.setdefault("processed_rows", 0)
    else:
        target, frm = ExportJob.Status.QUEUED, ExportJob.Status.INTERRUPTED
        task_obj = export_job_task
        fields.setdefault("message", "排队中，等待后台处理…")
    n = model.objects.filter(pk=job.pk, status=frm).update(status=target, worker="", task_id="",
                                                         finished_at=None, queued_at=timezone.now(), **fields)
    if n:
        job.refresh_from_db()
        enqueue(task_obj, job)
    return bool(n)
