"""A real ``qunli`` in subprocesses on a database of its own — a SQLite file, or a PostgreSQL
database beside the test one when the suite runs on PostgreSQL — for the tests that need real
worker processes (core/tests/test_job_workers.py) or a real web server beside them
(tests/browser/test_job_pages.py)."""

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

SRC = str(Path(__file__).resolve().parents[3])
REDIS_URL = os.environ.get("QUNLI_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
CLAIM_KEY = "qunli-test-claim"


def claim_redis_db(base_url: str = REDIS_URL):
    """A Redis database (1–15) of this test's own: the RQ queue lives in it, so two test runs
    on one machine (or one server) never take each other's jobs. Claimed with SET NX and a
    time-out, so a crashed run frees it by itself. Returns (url, release)."""
    import redis

    root = base_url.rsplit("/", 1)[0]
    for db in range(1, 16):
        url = f"{root}/{db}"
        conn = redis.Redis.from_url(url, socket_connect_timeout=2)
        token = uuid.uuid4().hex
        if conn.set(CLAIM_KEY, token, nx=True, ex=1800):
            for key in conn.scan_iter("rq:*"):  # whatever a crashed run left in it
                conn.delete(key)

            def release(conn=conn, token=token):
                if conn.get(CLAIM_KEY) == token.encode():
                    conn.flushdb()

            return url, release
    raise RuntimeError("no free Redis database (1–15) for the worker tests")


class WorkerEnv:
    """The environment of the subprocesses: data directory, database, queue."""

    def __init__(self, data_dir: Path, database_url: str, jobs: str, redis_url: str = REDIS_URL):
        self.data_dir = data_dir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
        self.env.update(
            QUNLI_DATA_DIR=str(data_dir),
            DATABASE_URL=database_url,
            QUNLI_JOBS=jobs,
            QUNLI_REDIS_URL=redis_url,
            QUNLI_IMPORT_WORKERS="2",
            PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
        )
        self.env.pop("QUNLI_REQUIRE_DB", None)

    def cli(self, *args, check=True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "qunli.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )  # seconds of work; a hang must fail, not stall CI
        if check and proc.returncode:
            raise AssertionError(
                f"qunli {' '.join(args[:2])} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc

    def script(self, code: str, *argv) -> str:
        out = self.cli(
            "shell", "-c", f"import sys; sys.argv = ['x', *{list(map(str, argv))!r}]\n{code}"
        ).stdout
        return out

    def worker(self) -> subprocess.Popen:
        """``qunli worker`` in a session of its own (stop it with os.killpg)."""
        return subprocess.Popen(
            [sys.executable, "-m", "qunli.cli", "worker"],
            env=self.env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def database_url(tmp_path) -> tuple[str, object]:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{tmp_path / 'jobs.sqlite3'}", None
    import psycopg

    name = f"qunli_jobs_{uuid.uuid4().hex[:10]}"
    params = dict(
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )
    with psycopg.connect(**params) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(**params) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    auth = f"{params['user']}:{params['password']}@" if params["password"] else f"{params['user']}@"
    return f"postgres://{auth}{params['host']}:{params['port']}/{name}", drop


@contextmanager
def migrated_worker_env(tmp_path, jobs: str = "database", redis_url: str = REDIS_URL):
    """A ``WorkerEnv`` on a database of its own, migrated; the database dropped afterwards."""
    url, drop = database_url(tmp_path)
    try:
        env = WorkerEnv(tmp_path, url, jobs, redis_url)
        env.cli("migrate", "-v", "0")
        yield env
    finally:
        if drop:
            drop()


def wait_for(predicate, what: str, limit_s: float = 300):
    """Poll until ``predicate()`` is true (a guard against hanging, not a timing assertion)."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")
