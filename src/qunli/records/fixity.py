"""Fixity (固定性检查): re-hash every stored object of the content-addressed storage (SM3 and
SHA-256 in one streaming pass with large buffers), compare with the digests recorded at
capture, and record what was found — a ``FixityRun`` with its counts, one
``PreservationEvent`` per item file checked, and the object's ``StoredObject`` state (when it
was last checked, so ``--due`` re-checks each object once per ``QUNLI_FIXITY_INTERVAL_DAYS``).

An object shared by several items (same bytes, one stored copy) is read once and an event is
written for each item. Items already destroyed (已销毁) have no files left and are skipped."""

import datetime as dt
import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from qunli.core.audit import log_change

from .models import FixityRun, Item, ItemFile, PreservationEvent, StoredObject

BUFFER = 4 * 1024 * 1024  # large reads: fewer syscalls, the hash functions see long runs
FLUSH = 500  # events and state rows written per transaction


_pool = None


def _sha_worker():
    """One helper thread for SHA-256 while the caller's thread computes SM3: hashlib releases
    the GIL on large updates, so on two cores the pair costs about as much as SM3 alone."""
    global _pool
    if _pool is None and (os.cpu_count() or 1) > 1:
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fixity-sha256")
    return _pool


def digest_stream(fh, buffer_size: int = BUFFER, progress: Callable[[int], None] | None = None) -> tuple:
    """(sm3 hex, sha256 hex, size) of a binary stream, read in ``buffer_size`` pieces into one
    reused buffer where the stream supports ``readinto`` (no per-chunk allocation); SM3 and
    SHA-256 of each piece run side by side when there is a second core."""
    sm3, sha = hashlib.new("sm3"), hashlib.sha256()
    total = 0
    readinto = getattr(fh, "readinto", None)
    if readinto is not None:
        buf = bytearray(buffer_size)
        view = memoryview(buf)
        pool = _sha_worker() if buffer_size >= 65536 else None
        while True:
            n = readinto(buf)
            if not n:
                break
            piece = view[:n]
            if pool is not None and n >= 65536:
                other = pool.submit(sha.update, piece)
                sm3.update(piece)
                other.result()  # the buffer is reused by the next read
            else:
                sm3.update(piece)
                sha.update(piece)
            total += n
            if progress:
                progress(n)
    else:
        while True:
            piece = fh.read(buffer_size)
            if not piece:
                break
            sm3.update(piece)
            sha.update(piece)
            total += len(piece)
            if progress:
                progress(len(piece))
    return sm3.hexdigest(), sha.hexdigest(), total


def open_primary(name: str):
    """The stored object as an unbuffered raw file when the storage is a local directory (the
    fastest path: ``readinto`` straight into our buffer), else through the storage API.
    Raises FileNotFoundError when it is not there."""
    try:
        path = default_storage.path(name)
    except NotImplementedError:
        if not default_storage.exists(name):
            raise FileNotFoundError(name) from None
        return default_storage.open(name, "rb")
    return open(path, "rb", buffering=0)


def check_object(name: str, progress=None) -> tuple[str, str, int] | None:
    """The digests of a primary object, or None when it is missing."""
    try:
        fh = open_primary(name)
    except FileNotFoundError:
        return None
    with fh:
        return digest_stream(fh, progress=progress)


def targets(mode: str = "due", fonds=None, interval_days: int | None = None, now=None):
    """The ItemFile rows to check: all (``mode="all"``) or those whose stored object was never
    checked or last checked before the interval (``"due"``), optionally of one fonds."""
    qs = ItemFile.objects.exclude(item__status=Item.Status.DISPOSED)
    if fonds is not None:
        qs = qs.filter(item__fonds=fonds)
    if mode == "due":
        days = settings.QUNLI_FIXITY_INTERVAL_DAYS if interval_days is None else interval_days
        cutoff = (now or timezone.now()) - dt.timedelta(days=days)
        fresh = StoredObject.objects.filter(checked_at__gte=cutoff).values("storage_name")
        qs = qs.exclude(storage_name__in=fresh)
    return qs


def run_fixity(actor=None, *, mode: str = "due", fonds=None, interval_days: int | None = None,
               progress: Callable[[int], None] | None = None, on_total: Callable[[int], None] | None = None
               ) -> FixityRun:
    """Check the objects (see ``targets``), record the run, its events and the objects' state.
    ``on_total`` gets the number of bytes to read first, ``progress`` each piece read."""
    if mode not in ("all", "due"):
        raise ValueError(mode)
    qs = targets(mode, fonds, interval_days)
    if on_total:
        on_total(qs.aggregate(n=Sum("size"))["n"] or 0)
    run = FixityRun.objects.create(scope_label="全部" if mode == "all" else "到期", fonds=fonds)
    started = time.perf_counter()
    rows = qs.order_by("storage_name", "id").values_list("id", "item_id", "storage_name", "sm3", "sha256", "size")
    events, states = [], []
    counts = {"ok": 0, "mismatch": 0, "missing": 0}
    objects_checked = bytes_checked = 0
    try:
        for name, group in groupby(rows.iterator(chunk_size=2000), key=lambda r: r[2]):
            group = list(group)
            found = check_object(name, progress=progress)
            now = timezone.now()
            objects_checked += 1
            object_ok = found is not None
            for file_id, item_id, _, sm3, sha256, size in group:
                if found is None:
                    outcome, detail = PreservationEvent.Outcome.MISSING, "存储中找不到该文件"
                elif (found[0], found[1], found[2]) != (sm3, sha256, size):
                    outcome = PreservationEvent.Outcome.MISMATCH
                    detail = f"SM3 应为 {sm3[:16]}…，实为 {found[0][:16]}…；大小 {size} → {found[2]}"
                    object_ok = False
                else:
                    outcome, detail = PreservationEvent.Outcome.OK, ""
                counts[outcome] += 1
                events.append(PreservationEvent(item_id=item_id, item_file_id=file_id, run=run,
                                                kind=PreservationEvent.Kind.FIXITY, outcome=outcome,
                                                storage_name=name, detail=detail, at=now))
            if found is not None:
                bytes_checked += found[2]
            states.append(StoredObject(storage_name=name, checked_at=now, check_ok=object_ok))
            if len(events) >= FLUSH:
                _flush(events, states)
    except BaseException:
        _flush(events, states)
        FixityRun.objects.filter(pk=run.pk).update(status=FixityRun.Status.FAILED, finished_at=timezone.now(),
                                                   objects_checked=objects_checked, bytes_checked=bytes_checked,
                                                   ok_count=counts["ok"], mismatch_count=counts["mismatch"],
                                                   missing_count=counts["missing"])
        raise
    _flush(events, states)
    with transaction.atomic():
        run.finished_at = timezone.now()
        run.status = FixityRun.Status.DONE
        run.objects_checked, run.bytes_checked = objects_checked, bytes_checked
        run.ok_count, run.mismatch_count, run.missing_count = counts["ok"], counts["mismatch"], counts["missing"]
        run.seconds = round(time.perf_counter() - started, 3)
        run.save()
        log_change(actor, "records.fixity_run", run, None,
                   {"scope": run.scope_label, "fonds": fonds.code if fonds else "", "objects": objects_checked,
                    "bytes": bytes_checked, **counts}, unit_path=fonds.unit.path if fonds else "")
    return run


def _flush(events: list, states: list) -> None:
    if not events and not states:
        return
    with transaction.atomic():
        PreservationEvent.objects.bulk_create(events, batch_size=FLUSH)
        save_states(states, ("checked_at", "check_ok"))
    events.clear()
    states.clear()


def save_states(states: list, fields: tuple[str, ...]) -> None:
    """Upsert StoredObject rows by storage name, updating only ``fields``."""
    if states:
        StoredObject.objects.bulk_create(states, batch_size=FLUSH, update_conflicts=True,
                                         unique_fields=["storage_name"], update_fields=list(fields))
