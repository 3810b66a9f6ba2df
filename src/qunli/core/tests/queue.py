"""Run what the database queue holds, inside the test's transaction.

``qunli worker`` (django-tasks-db's ``db_worker`` loop) closes "old" connections between tasks,
which on PostgreSQL closes the test's transaction; so in-process tests hand each ready task to
the same library ``Worker.run_task`` the loop uses, without the loop. The loop itself runs, as
a real process, in test_job_workers.py."""

from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from qunli.core import jobs


def run_queued() -> int:
    jobs.recover_interrupted()  # what the worker does when it starts
    worker = Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
                    max_tasks=None, worker_id="test-worker", excluded_queue_names=[])
    n = 0
    while (task := DBTaskResult.objects.ready().order_by("enqueued_at").first()) is not None:
        task.claim(worker.worker_id)
        worker.run_task(task)
        n += 1
    return n
