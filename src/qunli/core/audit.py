"""The two append-only audit trails (change log, access log), each a hash chain: every row
carries the SM3 digest of its own content and of the row before it, so editing, deleting or
reordering any row breaks the chain at that point and ``qunli audit verify`` names it."""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from .context import current_request_id
from .models import AccessLog, AuditHead, ChangeLog

GENESIS = "0" * 64


def sm3_hex(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


def json_safe(value):
    """Round-trip through JSON so what is hashed is exactly what the database returns."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


def snapshot(obj: models.Model, exclude: tuple[str, ...] = ()) -> dict:
    """Field values of a model instance for before/after. Encrypted columns are replaced by
    a marker of whether they changed, never by their content."""
    data = {}
    for field in obj._meta.concrete_fields:
        name = field.attname
        if name in exclude:
            continue
        value = getattr(obj, name)
        if name.endswith("_enc"):
            value = "已加密" if value else ""
        data[name] = value
    return json_safe(data)


def _canonical(row: models.Model, payload_fields: tuple[str, ...]) -> bytes:
    at = row.at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    body = {
        "seq": row.seq, "at": at, "actor_id": row.actor_id, "actor_name": row.actor_name,
        "request_id": row.request_id, "object_type": row.object_type, "object_id": row.object_id,
        "object_repr": row.object_repr,
    }
    for name in payload_fields:
        body[name] = getattr(row, name)
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


_PAYLOAD = {ChangeLog: ("action", "unit_path", "before", "after"), AccessLog: ("fields", "purpose")}


def _locked_head(chain: str) -> AuditHead:
    """The chain head, locked until the transaction ends. The very first writers may race
    to create it; the loser's insert fails inside its savepoint and it locks the winner's."""
    head = AuditHead.objects.select_for_update().filter(chain=chain).first()
    if head is None:
        try:
            with transaction.atomic():
                AuditHead.objects.create(chain=chain, digest=GENESIS, count=0)
        except IntegrityError:
            pass
        head = AuditHead.objects.select_for_update().get(chain=chain)
    return head


def _append(model, actor, obj_type: str, obj_id, obj_repr: str, **payload):
    with transaction.atomic():
        head = _locked_head(model.CHAIN)
        row = model(
            seq=head.count + 1,
            at=timezone.now(),
            actor=actor if actor is not None and actor.pk else None,
            actor_name=str(actor.username if actor is not None else "system"),
            request_id=current_request_id(),
            object_type=obj_type,
            object_id=str(obj_id or ""),
            object_repr=(obj_repr or "")[:200],
            prev_digest=head.digest,
            **payload,
        )
        row.digest = sm3_hex(head.digest.encode() + _canonical(row, _PAYLOAD[model]))
        models.Model.save(row, force_insert=True)
        head.digest, head.count = row.digest, row.seq
        head.save(update_fields=["digest", "count"])
        return row


def object_type_of(obj) -> str:
    return obj._meta.label_lower if isinstance(obj, models.Model) else str(obj)


def log_change(actor, action: str, obj, before: dict | None, after: dict | None, unit_path: str = "",
               obj_type: str | None = None, obj_id=None, obj_repr: str | None = None) -> ChangeLog:
    return _append(
        ChangeLog, actor,
        obj_type or object_type_of(obj),
        obj_id if obj_id is not None else getattr(obj, "pk", ""),
        obj_repr if obj_repr is not None else str(obj),
        action=action, unit_path=unit_path, before=json_safe(before), after=json_safe(after),
    )


def log_access(actor, obj, fields: list[str], purpose: str = "") -> AccessLog:
    return _append(AccessLog, actor, object_type_of(obj), obj.pk, str(obj),
                   fields=",".join(fields), purpose=purpose[:200])


@dataclass
class ChainBreak:
    chain: str
    seq: int
    reason: str


def verify_chain(model) -> tuple[int, list[ChainBreak]]:
    """Walk a chain in order; return (rows checked, breaks)."""
    breaks: list[ChainBreak] = []
    prev = GENESIS
    expected_seq = 1
    checked = 0
    for row in model.objects.order_by("seq").iterator(chunk_size=2000):
        checked += 1
        if row.seq != expected_seq:
            breaks.append(ChainBreak(model.CHAIN, row.seq, f"序号不连续：缺少第{expected_seq}条"))
        if row.prev_digest != prev:
            breaks.append(ChainBreak(model.CHAIN, row.seq, "前序摘要不符：此前的记录被删除或改动"))
        if sm3_hex(row.prev_digest.encode() + _canonical(row, _PAYLOAD[model])) != row.digest:
            breaks.append(ChainBreak(model.CHAIN, row.seq, "摘要不符：本条记录内容被改动"))
        prev = row.digest
        expected_seq = row.seq + 1
    head = AuditHead.objects.filter(chain=model.CHAIN).first()
    if head and (head.count != checked or head.digest != prev):
        breaks.append(ChainBreak(model.CHAIN, head.count, "链尾不符：末尾记录被删除"))
    return checked, breaks


def verify_all() -> dict:
    return {m.CHAIN: verify_chain(m) for m in (ChangeLog, AccessLog)}
