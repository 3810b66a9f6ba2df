"""Retention expiry → appraisal → destruction (到期鉴定与销毁).

- An item of 定期10年 / 定期30年 expires at the end of year ``年度 + N``; from then on it is
  *due for appraisal* (``due_for_appraisal``) until appraised. 永久 (Y) never expires.
- ``appraise`` records the decision with its reason: keep for a new period (its next review
  year is counted from this year; 永久 ends the reviews) or 拟销毁. The latest appraisal of an
  item is the one in force.
- ``propose_destruction`` puts items appraised 拟销毁 into a batch with its 销毁清册;
  ``decide_destruction`` approves or rejects it — only a leader whose grant reaches the
  holder (the fonds' unit, or the archives keeping the items after a transfer), and never the
  proposer; ``execute_destruction`` removes the files from the primary storage
  and from the off-site copy (after the commit, bytes shared with a live item stay) with their
  extracted text and thumbnail, marks the
  items 已销毁 and keeps their catalogue entries with the destruction record.
- Only the unit keeping an item appraises and destroys it (``actions.require_keeper``): after
  an accepted transfer that is the archives holding it, never the sender; items in an open
  transfer batch are never proposed nor destroyed.
- 永久 items are refused at every step. Every verb is an action with its change-log rows."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from qunli.core.actions import ActionError, action, clean_text, require_change
from qunli.core.audit import log_change
from qunli.core.notification_models import NotificationKind as Kind
from qunli.core.notifications import notify, settle

from . import search
from .access_models import OpeningReview
from .actions import require_keeper
from .file_models import FileContent
from .models import (
    Appraisal,
    DestructionBatch,
    DestructionEntry,
    Item,
    ItemFile,
    PreservationEvent,
    Retention,
)
from .use import is_archives_leader

YEARS = {Retention.D10: 10, Retention.D30: 30}
OPEN_BATCH = (DestructionBatch.Status.PROPOSED, DestructionBatch.Status.APPROVED)


def expired_q(year: int) -> Q:
    """Filed items whose retention period ended before ``year`` (a D10 item of 2014 is kept
    through 2024 and is due for appraisal from 2025)."""
    return Q(status=Item.Status.FILED) & (Q(retention=Retention.D10, year__lt=year - 10)
                                          | Q(retention=Retention.D30, year__lt=year - 30))


def with_latest_appraisal(qs):
    latest = Appraisal.objects.filter(item=OuterRef("pk")).order_by("-id")
    return qs.annotate(appraisal_decision=Subquery(latest.values("decision")[:1]),
                       appraisal_review_year=Subquery(latest.values("review_year")[:1]),
                       appraisal_id=Subquery(latest.values("id")[:1]))


def due_for_appraisal(qs, year: int | None = None):
    """Items of ``qs`` whose retention expired and whose latest appraisal (if any) is a keep
    decision that has run out."""
    year = year or timezone.localdate().year
    qs = with_latest_appraisal(qs.filter(expired_q(year)))
    return qs.filter(Q(appraisal_decision__isnull=True)
                     | Q(appraisal_decision=Appraisal.Decision.KEEP, appraisal_review_year__lte=year))


def in_open_transfer_q() -> Q:
    """Items in an open transfer batch (已组包/待接收): on their way to an archives, which will
    decide on them once it has accepted them."""
    from .transfer_models import TransferBatch, TransferItem

    open_transfer = TransferItem.objects.filter(
        item=OuterRef("pk"), batch__status__in=(TransferBatch.Status.PREPARED, TransferBatch.Status.SENT))
    return Q(pk__in=Subquery(open_transfer.values("item_id")))


def awaiting_destruction(qs):
    """Filed items appraised 拟销毁 that are in no open or executed batch and not in an open
    transfer batch (who keeps them is the caller's filter: ``actions.kept_by_q``)."""
    in_batch = DestructionEntry.objects.filter(item=OuterRef("pk"), batch__status__in=(
        *OPEN_BATCH, DestructionBatch.Status.EXECUTED)).values("id")
    return (with_latest_appraisal(qs.filter(status=Item.Status.FILED).exclude(retention=Retention.PERMANENT)
                                  .exclude(in_open_transfer_q()))
            .filter(appraisal_decision=Appraisal.Decision.DESTROY).exclude(pk__in=Subquery(in_batch)))


def _items(actor, item_ids, lock=True) -> list[Item]:
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        raise ActionError("请先选择条目。")
    qs = Item.objects.filter(pk__in=ids).select_related("fonds__unit")
    items = list(qs.select_for_update(of=("self",)) if lock else qs)
    if len(items) != len(ids):
        raise ActionError("部分条目不存在。")
    for it in items:
        require_keeper(actor, it)
    return items


@action
def appraise(actor, item_ids, *, decision: str, reason: str, new_retention: str = "",
             year: int | None = None) -> list[Appraisal]:
    """Record the appraisal of expired items: keep (with a new period) or 拟销毁. All or nothing."""
    year = year or timezone.localdate().year
    reason = clean_text(reason, "鉴定理由", limit=300)
    if decision not in Appraisal.Decision.values:
        raise ActionError("鉴定意见应为“继续保存”或“拟销毁”。")
    if decision == Appraisal.Decision.KEEP and new_retention not in Retention.values:
        raise ActionError("继续保存时请选择新的保管期限（永久、定期30年或定期10年）。")
    items = _items(actor, item_ids)
    due = set(due_for_appraisal(Item.objects.filter(pk__in=[i.pk for i in items]), year).values_list("pk", flat=True))
    errors = []
    for it in items:
        if it.retention == Retention.PERMANENT:
            errors.append(f"“{it}”保管期限为永久，不进行到期鉴定，不能销毁。")
        elif it.pk not in due:
            errors.append(f"“{it}”尚未到期或已鉴定，不在待鉴定范围内。")
    if errors:
        raise ActionError(errors)
    out = []
    review = None
    if decision == Appraisal.Decision.KEEP and new_retention != Retention.PERMANENT:
        review = year + YEARS[new_retention]
    for it in items:
        a = Appraisal.objects.create(item=it, decision=decision, reason=reason, decided_by=actor,
                                     new_retention=new_retention if decision == Appraisal.Decision.KEEP else "",
                                     review_year=review)
        log_change(actor, "records.appraise", it, None,
                   {"decision": decision, "new_retention": a.new_retention, "review_year": review, "reason": reason},
                   unit_path=it.fonds.unit.path)
        out.append(a)
    return out


@action
def propose_destruction(actor, fonds, item_ids, *, title: str, reason: str) -> DestructionBatch:
    """A destruction batch (销毁清册) of items of one fonds appraised 拟销毁, all kept by the
    same unit (the fonds' own, or the archives holding them), which the actor keeps for."""
    from .use import custodies, holder_of

    title = clean_text(title, "清册名称", limit=100)
    reason = clean_text(reason, "销毁理由", limit=300)
    items = _items(actor, item_ids)
    ready = {i.pk: i.appraisal_id for i in awaiting_destruction(Item.objects.filter(pk__in=[i.pk for i in items]))}
    moving = set(Item.objects.filter(pk__in=[i.pk for i in items]).filter(in_open_transfer_q())
                 .values_list("pk", flat=True))
    held = custodies(items)
    holders = {holder_of(it, held) for it in items}
    errors = []
    for it in items:
        if it.fonds_id != fonds.pk:
            errors.append(f"“{it}”不属于全宗 {fonds.code}。")
        elif it.retention == Retention.PERMANENT:
            errors.append(f"“{it}”保管期限为永久，不能销毁。")
        elif it.pk in moving:
            errors.append(f"“{it}”在未完成的移交批次中，不能销毁。")
        elif it.pk not in ready:
            errors.append(f"“{it}”未经鉴定为拟销毁，或已在其他销毁清册中。")
    if len(holders) > 1:
        errors.append(f"所选条目分别由{'、'.join(sorted(u.name for u in holders))}保管，请按保管单位分别列入清册。")
    if errors:
        raise ActionError(errors)
    batch = DestructionBatch.objects.create(fonds=fonds, holder=holders.pop(), title=title, reason=reason,
                                            proposed_by=actor)
    DestructionEntry.objects.bulk_create([DestructionEntry(batch=batch, item=it, appraisal_id=ready[it.pk])
                                          for it in sorted(items, key=lambda i: i.archival_code or "")])
    from .use import archives_leaders

    notify(archives_leaders(batch.holder), Kind.DESTRUCTION_PENDING,
           f"销毁清册“{title}”（{len(items)} 件）待您审批", obj=batch, exclude=actor)
    log_change(actor, "records.propose_destruction", batch, None,
               {"title": title, "reason": reason, "items": [[it.pk, it.archival_code] for it in items]},
               unit_path=fonds.unit.path)
    return batch


def can_decide(user, batch) -> bool:
    return (batch.status == DestructionBatch.Status.PROPOSED and user.pk != batch.proposed_by_id
            and is_archives_leader(user, batch.holder))


@action
def decide_destruction(actor, batch: DestructionBatch, *, approve: bool, note: str = "") -> DestructionBatch:
    """Approve or reject a proposed batch: a leader of the fonds' unit, not the proposer."""
    batch = DestructionBatch.objects.select_for_update().select_related("fonds__unit", "holder").get(pk=batch.pk)
    if not is_archives_leader(actor, batch.holder):
        raise PermissionDenied(f"只有对{batch.holder.name}有领导审批权限的人员可以审批该销毁清册。")
    if actor.pk == batch.proposed_by_id:
        raise ActionError("提出人不能审批自己提出的销毁清册。")
    if batch.status != DestructionBatch.Status.PROPOSED:
        raise ActionError(f"该销毁清册当前为“{batch.get_status_display()}”，不能审批。")
    note = clean_text(note, "审批意见", required=not approve, limit=300)
    before = {"status": batch.status}
    batch.status = DestructionBatch.Status.APPROVED if approve else DestructionBatch.Status.REJECTED
    batch.decided_by, batch.decided_at, batch.decision_note = actor, timezone.now(), note
    batch.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    settle(Kind.DESTRUCTION_PENDING, batch)
    notify([batch.proposed_by_id], Kind.DESTRUCTION_DECIDED,
           f"销毁清册“{batch.title}”{'已批准，可执行销毁' if approve else '被驳回'}", obj=batch, exclude=actor)
    log_change(actor, "records.decide_destruction", batch, before, {"status": batch.status, "note": note},
               unit_path=batch.fonds.unit.path)
    return batch


@action
def execute_destruction(actor, batch: DestructionBatch, store=None) -> DestructionBatch:
    """Destroy an approved batch: the items become 已销毁 (their catalogue entries stay, with
    the entry's record of the files), the file rows go, and the stored bytes no live item
    shares are deleted from the primary storage and the off-site copy after the commit."""
    from .use import custodies, holder_of

    batch = DestructionBatch.objects.select_for_update().select_related("fonds__unit", "holder").get(pk=batch.pk)
    require_change(actor, batch.holder)
    if batch.status != DestructionBatch.Status.APPROVED:
        raise ActionError("销毁清册未经批准，不能执行销毁。")
    entries = list(batch.entries.select_related("item"))
    items = (Item.objects.select_for_update(of=("self",)).select_related("fonds__unit")
             .filter(pk__in=[e.item_id for e in entries]))
    by_pk = {i.pk: i for i in items}
    errors = [f"“{by_pk[e.item_id]}”保管期限为永久，不能销毁。" for e in entries
              if by_pk[e.item_id].retention == Retention.PERMANENT]
    errors += [f"“{by_pk[e.item_id]}”状态为{by_pk[e.item_id].get_status_display()}，不能销毁。" for e in entries
               if by_pk[e.item_id].status != Item.Status.FILED]
    moving = set(Item.objects.filter(pk__in=by_pk).filter(in_open_transfer_q()).values_list("pk", flat=True))
    errors += [f"“{by_pk[pk]}”在未完成的移交批次中，不能销毁。" for pk in sorted(moving)]
    held = custodies(list(by_pk.values()))
    errors += [f"“{it}”已由{holder_of(it, held).name}保管，不在本清册的保管单位，不能销毁。"
               for it in by_pk.values() if it.pk not in moving and holder_of(it, held) != batch.holder]
    if errors:
        raise ActionError(errors)
    now = timezone.now()
    files = list(ItemFile.objects.filter(item_id__in=by_pk).order_by("id"))
    names = {f.storage_name for f in files}
    shared = set(ItemFile.objects.filter(storage_name__in=names).exclude(item_id__in=by_pk)
                 .exclude(item__status=Item.Status.DISPOSED).values_list("storage_name", flat=True))
    gone = sorted(names - shared)
    # what was derived from the destroyed content (extracted text, thumbnail) goes with it,
    # unless a live item holds the same digest
    digests = {f.sm3 for f in files}
    live = set(ItemFile.objects.filter(sm3__in=digests).exclude(item_id__in=by_pk)
               .exclude(item__status=Item.Status.DISPOSED).values_list("sm3", flat=True))
    contents = FileContent.objects.filter(sm3__in=digests - live)
    thumbs = sorted(t for t in contents.values_list("thumb_name", flat=True) if t)
    contents_gone = sorted(contents.values_list("sm3", flat=True))
    per_item = {}
    for f in files:
        per_item.setdefault(f.item_id, []).append({"name": f.name, "size": f.size, "sm3": f.sm3, "sha256": f.sha256,
                                                    "storage_name": f.storage_name})
    for e in entries:
        e.files = per_item.get(e.item_id, [])
    DestructionEntry.objects.bulk_update(entries, ["files"])
    PreservationEvent.objects.bulk_create([
        PreservationEvent(item_id=pk, kind=PreservationEvent.Kind.DESTRUCTION, outcome=PreservationEvent.Outcome.OK,
                          detail=f"依《{batch.title}》销毁，删除电子文件 {len(per_item.get(pk, []))} 个", at=now)
        for pk in by_pk])
    ItemFile.objects.filter(item_id__in=by_pk).delete()
    FileContent.objects.filter(sm3__in=contents_gone).delete()
    Item.objects.filter(pk__in=by_pk).update(status=Item.Status.DISPOSED)
    # a destroyed item leaves the appraisal-for-opening queue (its decided reviews stay)
    closed = list(OpeningReview.objects.filter(item_id__in=by_pk, decision=OpeningReview.Decision.QUEUED)
                  .order_by("id").values_list("id", flat=True))
    OpeningReview.objects.filter(pk__in=closed).delete()
    batch.status, batch.executed_by, batch.executed_at = DestructionBatch.Status.EXECUTED, actor, now
    batch.save(update_fields=["status", "executed_by", "executed_at"])
    log_change(actor, "records.execute_destruction", batch, {"status": DestructionBatch.Status.APPROVED},
               {"status": batch.status, "items": [[pk, by_pk[pk].archival_code] for pk in sorted(by_pk)],
                "deleted_objects": gone + thumbs, "deleted_contents": contents_gone,
                "closed_opening_reviews": closed}, unit_path=batch.fonds.unit.path)
    search.enqueue(list(by_pk))
    from .offsite import configured_store, delete_everywhere

    offsite_store = store if store is not None else configured_store()

    def delete_bytes():
        delete_everywhere(gone + thumbs, offsite_store)

    transaction.on_commit(delete_bytes)
    # what really happens, for the message of the page that ran it (execution_message)
    batch.outcome = {"items": len(by_pk), "files": len(files), "offsite": offsite_store is not None,
                     "kept": sum(f.storage_name in shared for f in files)}
    return batch


def execution_message(batch: DestructionBatch) -> str:
    """Say what an executed destruction did — no files to delete, no off-site copy configured,
    or deleted from both storages — rather than one sentence that claims all of it."""
    o = getattr(batch, "outcome", None) or {}
    items, files, kept = o.get("items", 0), o.get("files", 0), o.get("kept", 0)
    kept_entry = "目录条目保留并标注“已销毁”。"
    if not files:
        return f"已执行销毁：{items} 件条目均没有电子文件，无文件可删除；{kept_entry}"
    where = "主存储和异地备份" if o.get("offsite") else "主存储（未配置异地备份，没有异地副本）"
    shared = f"其中 {kept} 个与在保条目内容相同，这部分存储内容为在保条目保留；" if kept else ""
    return f"已执行销毁：{items} 件条目的 {files} 个电子文件已从{where}删除；{shared}{kept_entry}"


def retention_end(item) -> int | None:
    """The last year of the item's retention (None for 永久)."""
    n = YEARS.get(item.retention)
    return item.year + n if n else None
