"""The off-site copy (异地备份): a second storage holding every stored object under the same
name (``files/<sm3[:2]>/<sm3>``), either a directory (``file:///path``, e.g. a mounted disk of
another medium) or any S3-compatible store (``s3://bucket/prefix``; endpoint and keys from
``QUNLI_OFFSITE_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``QUNLI_OFFSITE_REGION``).

- ``sync``: copy the objects the copy lacks — each one's primary bytes are hashed first and a
  corrupted primary is never copied;
- ``verify``: re-hash every off-site object against the catalogue's digests;
- ``restore``: bring a missing or corrupted primary object back; the off-site bytes are
  fetched to a temporary file and hashed, and replace the primary only when they match.

Each writes one ``PreservationEvent`` per item concerned and one change-log row."""

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from qunli.core.actions import ActionError
from qunli.core.audit import log_change

from .fixity import BUFFER, check_object, digest_stream, save_states
from .models import Item, ItemFile, PreservationEvent, StoredObject


class FileStore:
    """An off-site copy in a local (mounted) directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.label = f"file://{self.root}"

    def _path(self, name: str) -> Path:
        return self.root / name

    def keys(self) -> set[str]:
        if not self.root.exists():
            return set()
        return {p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                if p.is_file() and not p.name.startswith(".tmp-")}

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def put(self, name: str, src_path: str) -> None:
        dest = self._path(name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=dest.parent)
        with os.fdopen(fd, "wb") as out, open(src_path, "rb") as src:
            shutil.copyfileobj(src, out, BUFFER)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)

    def open(self, name: str):
        try:
            return open(self._path(name), "rb", buffering=0)
        except FileNotFoundError:
            raise FileNotFoundError(name) from None

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)


class S3Store:
    """An off-site copy in an S3-compatible bucket (boto3)."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None):
        import boto3

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.label = f"s3://{bucket}/{self.prefix}"
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url or os.environ.get("QUNLI_OFFSITE_ENDPOINT_URL") or None,
            region_name=region or os.environ.get("QUNLI_OFFSITE_REGION") or "us-east-1",
            aws_access_key_id=access_key or os.environ.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=secret_key or os.environ.get("AWS_SECRET_ACCESS_KEY") or None)

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def keys(self) -> set[str]:
        out = set()
        start = f"{self.prefix}/" if self.prefix else ""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
            for obj in page.get("Contents", ()):
                out.add(obj["Key"][len(start):])
        return out

    def exists(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(name))
            return True
        except ClientError:
            return False

    def put(self, name: str, src_path: str) -> None:
        self.client.upload_file(src_path, self.bucket, self._key(name))

    def open(self, name: str):
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"]
        except ClientError as e:
            raise FileNotFoundError(name) from e

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(name))


def store_from_url(url: str):
    """``file:///path`` → FileStore, ``s3://bucket/prefix`` → S3Store, "" → None."""
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FileStore(parsed.path)
    if parsed.scheme == "s3":
        return S3Store(parsed.netloc, parsed.path)
    raise ValueError(f"QUNLI_OFFSITE 应为 file:///路径 或 s3://桶/前缀，而不是 {url!r}")


def configured_store():
    return store_from_url(settings.QUNLI_OFFSITE)


def _require(store):
    store = store if store is not None else configured_store()
    if store is None:
        raise ActionError("未配置异地备份存储（QUNLI_OFFSITE）。")
    return store


def _expected() -> dict[str, list[tuple]]:
    """storage name → [(file id, item id, sm3, sha256, size)] of the live (not destroyed) files."""
    out: dict[str, list[tuple]] = {}
    rows = (ItemFile.objects.exclude(item__status=Item.Status.DISPOSED).order_by("storage_name", "id")
            .values_list("storage_name", "id", "item_id", "sm3", "sha256", "size"))
    for name, *rest in rows.iterator(chunk_size=2000):
        out.setdefault(name, []).append(tuple(rest))
    return out


def _events(kind, name, files, outcome, detail="") -> list:
    now = timezone.now()
    return [PreservationEvent(item_id=item_id, item_file_id=file_id, kind=kind, outcome=outcome, storage_name=name,
                              detail=detail[:300], at=now) for file_id, item_id, *_ in files]


def _flush(events: list, states: list, fields: tuple[str, ...], force: bool = False) -> None:
    """Write the buffered events and state rows every 500 events (and at the end)."""
    if len(events) >= 500 or (force and (events or states)):
        with transaction.atomic():
            PreservationEvent.objects.bulk_create(events, batch_size=500)
            save_states(states, fields)
        events.clear()
        states.clear()


def _capped(out: dict, n: int = 100) -> dict:
    """The change-log payload: counts of every list, its first ``n`` names."""
    capped = dict(out)
    for k, v in out.items():
        if isinstance(v, list):
            capped[k], capped[f"{k}_count"] = v[:n], len(v)
    return capped


def _matches(found, files) -> bool:
    return found is not None and all((found[0], found[1], found[2]) == (s, h, z) for _, _, s, h, z in files)


def sync(actor=None, store=None, progress=None) -> dict:
    """Copy every live object the off-site copy lacks. Returns counts."""
    store = _require(store)
    expected = _expected()
    present = store.keys()
    copied, skipped, events, states = 0, [], [], []
    for name, files in expected.items():
        if name in present:
            continue
        found = check_object(name, progress=progress)
        if not _matches(found, files):
            why = "主存储中缺失" if found is None else "主存储中的文件与登记摘要不符"
            skipped.append(name)
            events += _events(PreservationEvent.Kind.OFFSITE_SYNC, name, files, PreservationEvent.Outcome.FAILED,
                              f"未复制：{why}，请先从异地副本恢复或核查")
            continue
        with _local_copy(name) as path:
            store.put(name, path)
        copied += 1
        events += _events(PreservationEvent.Kind.OFFSITE_SYNC, name, files, PreservationEvent.Outcome.OK,
                          f"已复制到 {store.label}")
        states.append(StoredObject(storage_name=name, offsite_at=timezone.now()))
        _flush(events, states, ("offsite_at",))
    out = {"store": store.label, "objects": len(expected), "already": len(present & expected.keys()),
           "copied": copied, "skipped": skipped}
    _flush(events, states, ("offsite_at",), force=True)
    with transaction.atomic():
        log_change(actor, "records.offsite_sync", None, None, _capped(out), obj_type="records.offsite",
                   obj_id=store.label[-40:], obj_repr=f"异地复制 {copied} 个对象")
    return out


class _local_copy:
    """A local path to the primary object (the file itself on disk storage, else a temp copy)."""

    def __init__(self, name: str):
        self.name, self.tmp = name, None

    def __enter__(self) -> str:
        try:
            return default_storage.path(self.name)
        except NotImplementedError:
            fd, self.tmp = tempfile.mkstemp()
            with os.fdopen(fd, "wb") as out, default_storage.open(self.name, "rb") as src:
                shutil.copyfileobj(src, out, BUFFER)
            return self.tmp

    def __exit__(self, *exc):
        if self.tmp:
            os.unlink(self.tmp)


def _digest_offsite(store, name: str):
    try:
        fh = store.open(name)
    except FileNotFoundError:
        return None
    try:
        return digest_stream(fh)
    finally:
        fh.close()


def verify(actor=None, store=None, progress=None) -> dict:
    """Re-hash every off-site object of a live file against the catalogue."""
    store = _require(store)
    expected = _expected()
    present = store.keys()
    ok, missing, mismatch, events, states = 0, [], [], [], []
    for name, files in expected.items():
        found = _digest_offsite(store, name) if name in present else None
        if found is None:
            missing.append(name)
            events += _events(PreservationEvent.Kind.OFFSITE_VERIFY, name, files, PreservationEvent.Outcome.MISSING,
                              f"{store.label} 中没有该对象")
        elif not _matches(found, files):
            mismatch.append(name)
            events += _events(PreservationEvent.Kind.OFFSITE_VERIFY, name, files,
                              PreservationEvent.Outcome.MISMATCH, f"异地副本摘要不符（SM3 实为 {found[0][:16]}…）")
        else:
            ok += 1
            events += _events(PreservationEvent.Kind.OFFSITE_VERIFY, name, files, PreservationEvent.Outcome.OK)
            states.append(StoredObject(storage_name=name, offsite_verified_at=timezone.now()))
        if progress and found is not None:
            progress(found[2])
        _flush(events, states, ("offsite_verified_at",))
    out = {"store": store.label, "objects": len(expected), "ok": ok, "missing": missing, "mismatch": mismatch}
    _flush(events, states, ("offsite_verified_at",), force=True)
    with transaction.atomic():
        log_change(actor, "records.offsite_verify", None, None, _capped(out), obj_type="records.offsite",
                   obj_id=store.label[-40:], obj_repr=f"异地核验 {len(expected)} 个对象")
    return out


def restore(actor, name: str, store=None) -> dict:
    """Bring the primary object ``name`` back from the off-site copy, verified first: the
    off-site bytes must match the catalogue's SM3, SHA-256 and size, or nothing is replaced."""
    store = _require(store)
    files = _expected().get(name)
    if not files:
        raise ActionError(f"目录中没有存储位置为“{name}”的在存文件。")
    fd, tmp = tempfile.mkstemp()
    try:
        try:
            src = store.open(name)
        except FileNotFoundError:
            raise ActionError(f"异地副本中没有“{name}”，无法恢复。") from None
        with os.fdopen(fd, "wb") as out:
            try:
                while True:
                    piece = src.read(BUFFER)
                    if not piece:
                        break
                    out.write(piece)
            finally:
                src.close()
        with open(tmp, "rb", buffering=0) as fh:
            found = digest_stream(fh)
        if not _matches(found, files):
            raise ActionError(f"异地副本“{name}”的摘要与登记不符，未恢复（主存储保持原状）。")
        before = check_object(name)
        with open(tmp, "rb") as fh:
            if default_storage.exists(name):
                default_storage.delete(name)
            saved = default_storage.save(name, File(fh))
        if saved != name:
            raise ActionError(f"恢复写入的位置“{saved}”与“{name}”不一致。")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    was = "缺失" if before is None else ("摘要不符" if not _matches(before, files) else "一致")
    out = {"name": name, "was": was, "sm3": found[0], "size": found[2], "store": store.label}
    with transaction.atomic():
        PreservationEvent.objects.bulk_create(_events(PreservationEvent.Kind.RESTORE, name, files,
                                                      PreservationEvent.Outcome.OK,
                                                      f"原文件{was}，已从 {store.label} 恢复并核验"))
        save_states([StoredObject(storage_name=name, checked_at=timezone.now(), check_ok=True)],
                    ("checked_at", "check_ok"))
        log_change(actor, "records.offsite_restore", None, None, out, obj_type="records.offsite",
                   obj_id=name.rsplit("/", 1)[-1][:40], obj_repr=f"从异地恢复 {name}")
    return out


def problem_objects() -> list[str]:
    """Stored objects whose last fixity check found them missing or altered."""
    return list(StoredObject.objects.filter(check_ok=False).order_by("storage_name")
                .values_list("storage_name", flat=True))


def delete_everywhere(names, store=None) -> None:
    """Remove objects from the primary storage and the off-site copy (destruction)."""
    store = store if store is not None else configured_store()
    for name in names:
        if default_storage.exists(name):
            default_storage.delete(name)
        if store is not None:
            store.delete(name)
    StoredObject.objects.filter(storage_name__in=list(names)).delete()
