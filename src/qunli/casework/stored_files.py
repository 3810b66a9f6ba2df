"""Files citizens and staff upload to casework (a visit's or a wish's photo, a request's
attachment), stored once by content: ``<prefix>/<sm3[:2]>/<sm3>`` of the default storage."""

import hashlib

from django.core.files.base import File
from django.core.files.storage import default_storage

from qunli.core.actions import ActionError

CHUNK = 1024 * 1024


def store_by_digest(f, prefix: str, max_bytes: int, too_big: str) -> tuple[str, str, int, bool]:
    """Hash (SM3) an uploaded file while counting its bytes — the upload's declared size may
    lie, the bytes do not: past ``max_bytes`` it is refused with ``too_big`` — and store it
    unless the same bytes are already there. Returns (storage name, SM3, size, newly written)."""
    f.seek(0)
    h, total = hashlib.new("sm3"), 0
    for chunk in f.chunks(CHUNK) if hasattr(f, "chunks") else iter(lambda: f.read(CHUNK), b""):
        h.update(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise ActionError(too_big)
    digest = h.hexdigest()
    storage_name = f"{prefix}/{digest[:2]}/{digest}"
    if default_storage.exists(storage_name):
        return storage_name, digest, total, False
    f.seek(0)
    saved = default_storage.save(storage_name, f if isinstance(f, File) else File(f))
    if saved != storage_name:  # the same bytes were stored concurrently
        default_storage.delete(saved)
        return storage_name, digest, total, False
    return storage_name, digest, total, True
