"""A benchmark's own cached database: migrated in a child process (the running process keeps
its database), then filled in this process by the scenario's ``fill`` function, built once
under ``bench.common.cache_dir`` and reused. When migrations were added since, the cached
file is migrated in place (its data kept) and analyzed again, as ``qunli.demo`` does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _migrate(path: Path, log) -> None:
    from django.conf import settings

    env = dict(os.environ, DATABASE_URL=f"sqlite:///{path}", DJANGO_SETTINGS_MODULE="qunli.settings",
               PYTHONPATH=os.pathsep.join([str(settings.PROJECT_DIR / "src"), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-m", "qunli.cli", "migrate", "--noinput", "-v", "0"], env=env, check=True,
                   stdout=log, stderr=log)


def migrated_database(path: Path, fill, log=None) -> Path:
    from qunli.demo import _analyze, _unapplied_migrations, using_database

    log = log or sys.stderr
    if path.exists():
        if _unapplied_migrations(path):
            _migrate(path, log)
            _analyze(path)
        return path
    tmp = path.with_suffix(".building")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    _migrate(tmp, log)
    with using_database(tmp):
        fill()
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cur.execute("ANALYZE")
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, path)
    return path
