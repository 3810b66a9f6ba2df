"""The verbs that write archival holdings. Other modules capture their records through
``capture_record`` (前端控制): the business record becomes a pending item, its files hashed
(SM3, SHA-256) and stored once, the moment it is created. ``file_items`` classes, orders and
numbers pending items per DA/T 22; a filed 档号 changes only through ``renumber_item``."""

import datetime as dt
import hashlib
import uuid
from collections import defaultdict

from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from qunli.core.actions import ActionError, action, full_clean_or_raise, require_change
from qunli.core.audit import log_change, snapshot
from qunli.core.scoping import CHANGE, can, staff_reach

from . import extract, numbering, search
from .models import (
    Category,
    Classification,
    FilingCounter,
    Fonds,
    Item,
    ItemFile,
    Openness,
    OrgCode,
    Retention,
    RetentionRule,
    RetentionSchedule,
)

MAX_FILE_BYTES = 200 * 1024 * 1024
# extension → (MIME type, accepted leading bytes). DOCX and OFD are zip containers.
ALLOWED_TYPES = {
    "pdf": ("application/pdf", (b"%PDF",)),
    "ofd": ("application/ofd", (b"PK\x03\x04",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "tif": ("image/tiff", (b"II*\x00", b"MM\x00*")),
    "tiff": ("image/tiff", (b"II*\x00", b"MM\x00*")),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    "txt": ("text/plain", (b"",)),
    "mp3": ("audio/mpeg", (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xfa")),
    "wav": ("audio/wav", (b"RIFF",)),
    "mp4": ("video/mp4", ()),  # the box type "ftyp" at bytes 4–8, checked in check_file
}
ALLOWED_LABEL = "PDF、OFD、JPEG、TIFF、PNG、DOCX、TXT、MP3、WAV、MP4"
CHUNK = 1024 * 1024


# --- holdings ----------------------------------------------------------------------------

@action
def create_fonds(actor, *, unit, code: str, name: str) -> Fonds:
    require_change(actor, unit)
    if not staff_reach(actor, unit):
        raise PermissionDenied("建立全宗须由本级或上级单位的档案管理人员办理；基层填报员只登记本单位的数据。")
    code = (code or "").strip().upper()
    if Fonds.objects.filter(code=code).exists():
        raise ActionError(f"全宗号“{code}”已被使用。")
    fonds = Fonds(unit=unit, code=code, name=(name or "").strip())
    full_clean_or_raise(fonds)
    fonds.save()
    log_change(actor, "records.create_fonds", fonds, None, snapshot(fonds), unit_path=unit.path)
    return fonds


@action
def add_org_code(actor, fonds: Fonds, *, code: str, name: str) -> OrgCode:
    require_change(actor, fonds)
    code = (code or "").strip().upper()
    if not code.isalnum() or not code.isascii():
        raise ActionError("机构（问题）代码只能由字母和数字组成，如 BGS。")
    if fonds.org_codes.filter(code=code).exists():
        raise ActionError(f"本全宗已有机构（问题）代码“{code}”。")
    oc = OrgCode(fonds=fonds, code=code, name=(name or "").strip())
    full_clean_or_raise(oc)
    oc.save()
    log_change(actor, "records.add_org_code", oc, None, snapshot(oc), unit_path=fonds.unit.path)
    return oc


@action
def add_schedule_version(actor, unit, *, effective_on: dt.date, rules: list[tuple[str, str]],
                         note: str = "") -> RetentionSchedule:
    """A new version of the unit's 归档范围和保管期限表; earlier versions stay as they were."""
    require_change(actor, unit)
    if not rules:
        raise ActionError("保管期限表至少需要一条规则。")
    seen = set()
    for record_type, retention in rules:
        if not record_type:
            raise ActionError("文件类型不能为空。")
        if retention not in Retention.values:
            raise ActionError(f"“{record_type}”的保管期限无效，应为 Y、D30 或 D10。")
        if record_type in seen:
            raise ActionError(f"文件类型“{record_type}”重复。")
        seen.add(record_type)
    last = RetentionSchedule.objects.filter(unit=unit).order_by("-version").values_list("version", flat=True).first()
    schedule = RetentionSchedule.objects.create(unit=unit, version=(last or 0) + 1, effective_on=effective_on,
                                                note=note)
    RetentionRule.objects.bulk_create([RetentionRule(schedule=schedule, record_type=t, retention=r)
                                       for t, r in rules])
    log_change(actor, "records.add_schedule_version", schedule, None,
               {**snapshot(schedule), "rules": [list(r) for r in rules]}, unit_path=unit.path)
    return schedule


def current_schedule(unit, on: dt.date | None = None) -> RetentionSchedule | None:
    """The schedule in force on ``on``: the unit's own, else its nearest ancestor's; of a unit's
    versions, the one that took effect last before ``on`` — a version added later for earlier
    records (effective 2020, after one effective 2026) governs 2020–2025 only."""
    on = on or dt.date.today()
    paths = [unit.path[: i * unit.steplen] for i in range(1, unit.depth + 1)]
    return (RetentionSchedule.objects.filter(unit__path__in=paths, effective_on__lte=on)
            .order_by("-unit__depth", "-effective_on", "-version").prefetch_related("rules").first())


RETENTION_WORDS = {"永久": "Y", "定期30年": "D30", "30年": "D30", "定期10年": "D10", "10年": "D10"}
# the record types the platform's own capture hooks register (orgs events, appointments, closed cases)
CAPTURED_RECORD_TYPES = ("机构变动", "干部任免", "个案")


def retention_code(value: str) -> str | None:
    """Y / D30 / D10 from a code or its Chinese name (永久, 定期30年, 30年 …); None if neither."""
    value = (value or "").strip()
    if value.upper() in Retention.values:
        return value.upper()
    return RETENTION_WORDS.get(value)


def fonds_for(unit) -> Fonds | None:
    """The fonds of the unit, or of its nearest ancestor that has one."""
    paths = [unit.path[: i * unit.steplen] for i in range(1, unit.depth + 1)]
    return Fonds.objects.filter(unit__path__in=paths).select_related("unit").order_by("-unit__depth", "id").first()


# --- capture (前端控制) ---------------------------------------------------------------------

def _open(f):
    """Accept an UploadedFile / File, or a (name, bytes) pair."""
    if isinstance(f, tuple):
        name, data = f
        return name, ContentFile(data, name=name)
    return f.name, f


def check_file(name: str, size: int, head: bytes) -> str:
    """The MIME type of an acceptable file, or an ActionError with the reason in Chinese."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in ALLOWED_TYPES:
        raise ActionError(f"文件“{name}”的格式不在允许范围内（允许：{ALLOWED_LABEL}）。")
    if size == 0:
        raise ActionError(f"文件“{name}”是空文件。")
    if size > MAX_FILE_BYTES:
        raise ActionError(f"文件“{name}”超过大小上限（{MAX_FILE_BYTES // 1024 // 1024} MB）。")
    mime, magics = ALLOWED_TYPES[ext]
    if ext == "mp4" and head[4:8] == b"ftyp":
        return mime
    if ext == "wav" and head[8:12] not in (b"WAVE", b""):
        raise ActionError(f"文件“{name}”的内容与扩展名 .{ext} 不符或文件已损坏。")
    if not any(head.startswith(m) for m in magics):
        raise ActionError(f"文件“{name}”的内容与扩展名 .{ext} 不符或文件已损坏。")
    return mime


WRITTEN_KINDS = {"docx", "txt"}  # born-digital whatever the uploader says


def store_file(item: Item, f, origin: str) -> ItemFile:
    """Hash once (SM3 and SHA-256 in one pass) and store under files/<sm3[:2]>/<sm3>, once
    per content. A stored file outlives a rolled-back capture harmlessly: it is addressed
    by its content and a later capture of the same bytes reuses it."""
    name, fh = _open(f)
    size = getattr(fh, "size", None)
    fh.seek(0)
    head = fh.read(16)
    fh.seek(0)
    sm3, sha = hashlib.new("sm3"), hashlib.sha256()
    total = 0
    for chunk in fh.chunks(CHUNK) if hasattr(fh, "chunks") else iter(lambda: fh.read(CHUNK), b""):
        sm3.update(chunk)
        sha.update(chunk)
        total += len(chunk)
    mime = check_file(name, size if size is not None else total, head)
    if name.rsplit(".", 1)[-1].lower() in WRITTEN_KINDS:  # no scanner makes a DOCX: it was written
        origin = ItemFile.Origin.BORN_DIGITAL
    digest = sm3.hexdigest()
    storage_name = f"files/{digest[:2]}/{digest}"
    if not default_storage.exists(storage_name):
        fh.seek(0)
        saved = default_storage.save(storage_name, fh if isinstance(fh, File) else File(fh))
        if saved != storage_name:  # a concurrent capture stored the same bytes first
            default_storage.delete(saved)
    try:  # text, page count and thumbnail, once per digest, parsed in an isolated child
        extract.ensure_content(digest, storage_name, name.rsplit(".", 1)[-1], name)
    except extract.BrokenFile as e:
        raise ActionError(str(e)) from None
    stored = ItemFile.objects.create(item=item, name=name[:200], size=total, mime=mime, sm3=digest,
                                     sha256=sha.hexdigest(), storage_name=storage_name, origin=origin)
    refresh_scanned_pages(item)
    return stored


def refresh_scanned_pages(item: Item) -> None:
    """页数 digitized so far: the pages of the item's scans (PDF, OFD, images of the paper
    original), each distinct content counted once. A born-digital file is no scan: a digital
    photo or a document written on a computer adds no page to the paper's digitization."""
    from django.db.models import Sum

    from .file_models import FileContent

    digests = set(ItemFile.objects.filter(item_id=item.pk, origin=ItemFile.Origin.SCAN)
                  .values_list("sm3", flat=True))
    n = (FileContent.objects.filter(sm3__in=digests, kind__in=extract.SCANNED_KINDS)
         .aggregate(n=Sum("page_count"))["n"] or 0)
    Item.objects.filter(pk=item.pk).update(scanned_pages=n)
    item.scanned_pages = n


def _source_fields(source) -> dict:
    if source is None:
        return {"source_type": "", "source_id": "", "source_repr": ""}
    if isinstance(source, dict):
        return {k: str(source.get(k, ""))[:200] for k in ("source_type", "source_id", "source_repr")}
    return {"source_type": source._meta.label_lower, "source_id": str(source.pk), "source_repr": str(source)[:200]}


@action
def capture_record(actor, *, unit, title: str, responsible: str, date: dt.date, source=None, doc_no: str = "",
                   category: str = "WS", retention: str | None = None, files=(), record_type: str = "",
                   org_code: str = "", classification: str = Classification.INTERNAL,
                   openness: str = Openness.PENDING, pages: int | None = None, note: str = "",
                   file_origin: str = ItemFile.Origin.BORN_DIGITAL) -> Item:
    """Register a business record as a pending archival item in the fonds of ``unit`` (or
    of its nearest ancestor with a fonds). Retention comes from the schedule in force when
    not given (rule for ``record_type``); it may stay empty and be set before filing.
    ``files`` are what the business system made (原生电子文件) unless ``file_origin`` says
    they are scans of a paper original."""
    require_change(actor, unit)
    refuse_opening_by_description(openness)
    fonds = fonds_for(unit)
    if fonds is None:
        raise ActionError(f"“{unit.name}”及其上级单位均未建立全宗，无法登记档案。")
    cat = Category.objects.filter(code=category).first()
    if cat is None:
        raise ActionError(f"门类代码“{category}”不存在。")
    if retention and retention not in Retention.values:
        raise ActionError("保管期限无效，应为 Y、D30 或 D10。")
    if file_origin not in ItemFile.Origin.values:
        raise ActionError("文件生成方式无效，应为 scan（数字化副本）或 born_digital（原生电子文件）。")
    if not retention and record_type:
        schedule = current_schedule(unit, date)
        retention = schedule.retention_for(record_type) if schedule else None
    oc = None
    if org_code:
        oc = fonds.org_codes.filter(code=org_code.strip().upper()).first()
        if oc is None:
            raise ActionError(f"全宗{fonds.code}没有机构（问题）代码“{org_code}”。")
    item = Item(fonds=fonds, category=cat, year=(date or dt.date.today()).year, retention=retention or "",
                org_code=oc, title=(title or "")[:300], responsible=(responsible or "")[:100], date=date,
                doc_no=doc_no or "", classification=classification, openness=openness, pages=pages, note=note,
                **_source_fields(source))
    full_clean_or_raise(item)
    item.save()
    stored = [store_file(item, f, file_origin) for f in files]
    after = snapshot(item)
    after["files"] = [{"name": s.name, "size": s.size, "sm3": s.sm3, "sha256": s.sha256, "origin": s.origin}
                      for s in stored]
    log_change(actor, "records.capture_record", item, None, after, unit_path=fonds.unit.path)
    search.enqueue([item.pk])  # indexed after the commit (outbox)
    return item


OPEN_BY_APPRAISAL_ONLY = ("开放标识“开放”只能由开放鉴定决定（《档案法》第二十七条：经鉴定后向社会开放），"
                          "登记或著录时只能选“待定”或“控制使用”；需提前开放的，归档后提交重新鉴定。")


def refuse_opening_by_description(openness: str | None, current: str | None = None) -> None:
    """A record becomes public only through an opening decision (decide_opening), never by a
    describing clerk's choice: a record captured as 开放 was on the portal the day it was filed."""
    if openness == Openness.OPEN and current != Openness.OPEN:
        raise ActionError(OPEN_BY_APPRAISAL_ONLY)


EDITABLE = ("title", "responsible", "date", "doc_no", "classification", "openness", "pages", "retention", "note")
# Parts of the 档号 (DA/T 22): on a filed item they change only through renumbering (件号, within
# the class) — never through a description edit, which would leave the 档号 saying otherwise.
CODE_PARTS = ("category", "retention", "org_code")
# 开放标识 of a filed item follows the opening decisions only (records.opening)
FILED_LOCKED = (*CODE_PARTS, "openness")
FIELD_LABELS = {"category": "门类", "retention": "保管期限", "org_code": "机构（问题）代码", "openness": "开放标识"}


def _filed_refusals(item: Item, changes: dict, org_code: str | None, category: str | None) -> list[str]:
    """Why a correction of a filed item is refused: a 档号 part or the 开放标识 would change, the
    date would leave the 年度 of the 档号, or a required element would be emptied. A locked
    field sent with its current value (the edit form sends every field) is no change."""
    out = []
    asked = {"category": category, "org_code": None if org_code is None else org_code.strip().upper(),
             "retention": changes.get("retention"), "openness": changes.get("openness")}
    now = {"category": item.category.code, "org_code": item.org_code.code if item.org_code_id else "",
           "retention": item.retention, "openness": item.openness}
    for k in FILED_LOCKED:
        if k in ("retention", "openness") and k not in changes:
            continue
        if asked[k] is not None and (asked[k] or "") != (now[k] or ""):
            if k == "openness":
                out.append("已归档条目的开放标识只能通过开放鉴定（或重新鉴定）改变。")
            else:
                out.append(f"{FIELD_LABELS[k]}是档号的组成部分，已归档条目不能在著录项中修改；"
                           f"档号的调整请用“调整件号”（重新编号）办理。")
    if "date" in changes:
        if changes["date"] is None:
            out.append("已归档条目的日期是必著项，不能清空。")
        elif changes["date"].year != item.year:
            out.append(f"日期须在{item.year}年内：年度是档号的组成部分，已归档条目不能改变年度。")
    for k, label in (("title", "题名"), ("responsible", "责任者"), ("pages", "页数"), ("classification", "密级")):
        if k in changes and changes[k] in (None, ""):
            out.append(f"已归档条目的{label}是必著项，不能清空。")
    return out


def require_keeper(actor, item: Item) -> None:
    """Who may change an item: its fonds' unit while it keeps it; after an accepted transfer,
    only the archives holding it (馆藏) — the sender's edits would leave the received package
    and its receipt check describing something else than what the archives holds."""
    from .transfer_models import Custody

    custody = Custody.objects.filter(item_id=item.pk).select_related("unit").first()
    if custody is None:
        require_change(actor, item)
    elif not can(actor, CHANGE, custody.unit):
        raise PermissionDenied(f"该条目已移交“{custody.unit.name}”保管（馆藏），只有保管单位才能修改。")


def kept_by_q(actor, action: str = CHANGE) -> Q:
    """Items ``actor`` keeps: held by an archives in its reach, or not transferred and in a
    fonds in its reach (``require_keeper`` for a whole queryset). With ``VIEW``: the items
    kept by units the actor sees — an archives' holdings, not what its fonds handed on."""
    from qunli.orgs.models import Unit

    return (Q(custody__unit__in=Unit.objects.visible_to(actor, action))
            | Q(custody__isnull=True, fonds__in=Fonds.objects.visible_to(actor, action)))


@action
def update_item(actor, item: Item, *, org_code: str | None = None, category: str | None = None, **changes) -> Item:
    """Complete or correct the description of an item. Pending: every field. Filed: the
    description (题名, 责任者, 日期 within its 年度, 文件编号, 密级 — e.g. 解密 —, 页数, 备注), a
    logged correction with before/after; the 档号 and its parts (全宗, 门类, 年度, 保管期限,
    机构代码, 件号) change only by renumbering, the 开放标识 only by opening decisions."""
    require_keeper(actor, item)
    if item.status == Item.Status.DISPOSED:
        raise ActionError("已销毁的条目不能修改。")
    for k in changes:
        if k not in EDITABLE:
            raise ActionError(f"不能修改字段 {k}")
    filed = item.is_filed
    if not filed:
        refuse_opening_by_description(changes.get("openness"), item.openness)
    if filed:
        refused = _filed_refusals(item, changes, org_code, category)
        if refused:
            raise ActionError(refused)
        changes = {k: v for k, v in changes.items() if k not in FILED_LOCKED}
        org_code = category = None
    before = snapshot(item)
    for k, v in changes.items():
        setattr(item, k, v if v is not None or k in ("date", "pages") else "")
    if item.date:
        item.year = item.date.year
    if org_code is not None:
        item.org_code = item.fonds.org_codes.filter(code=org_code.strip().upper()).first() if org_code else None
        if org_code and item.org_code is None:
            raise ActionError(f"全宗{item.fonds.code}没有机构（问题）代码“{org_code}”。")
    if category:
        item.category = Category.objects.filter(code=category).first() or item.category
    full_clean_or_raise(item)
    after = snapshot(item)
    changed = {k for k in after if after[k] != before.get(k)}
    if filed and not changed:
        raise ActionError("著录项没有改动。")
    item.save()
    log_change(actor, "records.correct_filed_item" if filed else "records.update_item", item,
               {k: before.get(k) for k in sorted(changed)} if filed else before,
               {k: after[k] for k in sorted(changed)} if filed else after, unit_path=item.fonds.unit.path)
    search.enqueue([item.pk])  # 题名, 责任者, 文件编号 are indexed (full text and public catalogue)
    return item


@action
def set_file_origin(actor, file: ItemFile, *, origin: str) -> ItemFile:
    """Correct a file's 生成方式 (a scan marked born-digital, or the reverse): the item's
    digitized pages are counted again, and the change is logged on the item."""
    item = file.item
    require_keeper(actor, item)
    if item.status == Item.Status.DISPOSED:
        raise ActionError("已销毁的条目不能修改。")
    if origin not in ItemFile.Origin.values:
        raise ActionError("文件生成方式无效，应为“数字化副本”或“原生电子文件”。")
    if origin == file.origin:
        raise ActionError(f"文件“{file.name}”的生成方式已是“{file.get_origin_display()}”。")
    # the file's name with the label, not a code: the item's history tab shows it as it is
    before = {"file_origin": f"{file.name}：{file.get_origin_display()}"}
    file.origin = origin
    file.save(update_fields=["origin"])
    refresh_scanned_pages(item)
    log_change(actor, "records.set_file_origin", item, before,
               {"file_origin": f"{file.name}：{file.get_origin_display()}"}, unit_path=item.fonds.unit.path)
    return file


# --- filing (DA/T 22-2015) -----------------------------------------------------------------

REQUIRED = (("title", "题名"), ("responsible", "责任者"), ("date", "日期"), ("classification", "密级"),
            ("retention", "保管期限"), ("openness", "开放标识"), ("pages", "页数"))
_CLASSIFICATIONS = frozenset(Classification.values)
_ROW = ("id", "fonds_id", "category__code", "category_id", "year", "retention", "org_code__code", "date", "title",
        "responsible", "doc_no", "classification", "openness", "pages", "status")


def missing_elements(row: dict, needs_org: bool) -> list[str]:
    """The DA/T 18 required elements an item lacks (文件编号 may be empty, but is a field)."""
    missing = [label for key, label in REQUIRED if row[key] is None or row[key] == ""]
    if row["pages"] is not None and row["pages"] < 1 and "页数" not in missing:
        missing.append("页数")
    if row["classification"] and row["classification"] not in _CLASSIFICATIONS:
        missing.append("密级")
    if needs_org and not row["org_code__code"]:
        missing.append("机构（问题）代码")
    if row["date"] and row["year"] != row["date"].year:
        missing.append("年度（与日期不符）")
    return missing


def archival_code(fonds_code: str, category: str, year: int, retention: str, org: str, piece_no: int) -> str:
    """全宗号-门类代码·年度-保管期限-机构代码-件号, e.g. J001-WS·2023-Y-BGS-0001."""
    parts = [fonds_code, f"{category}·{year}", retention] + ([org] if org else []) + [f"{piece_no:04d}"]
    return "-".join(parts)


def _locked_counter(key: dict) -> FilingCounter:
    """The class counter, locked until the transaction ends; the first filers of a class
    may race to create it, the loser's insert fails in its savepoint and it locks the row."""
    return _locked_counters([key])[_class_key(key)]


def _class_key(key: dict) -> tuple:
    return key["fonds_id"], key["category_id"], key["year"], key["retention"], key["org"]


def _locked_counters(keys: list[dict]) -> dict:
    """The counters of several classes, locked in one query (in id order, the same for every
    filer); missing ones are created first, each in its savepoint (a concurrent creator of
    the same class makes the insert fail, and the row is then locked like the others)."""
    def select():
        qs = FilingCounter.objects.select_for_update().filter(
            fonds_id__in={k["fonds_id"] for k in keys}, category_id__in={k["category_id"] for k in keys},
            year__in={k["year"] for k in keys}).order_by("id")
        return {(c.fonds_id, c.category_id, c.year, c.retention, c.org): c for c in qs}

    found = select()
    missing = [k for k in keys if _class_key(k) not in found]
    if missing:
        for key in sorted(missing, key=_class_key):
            try:
                with transaction.atomic():
                    FilingCounter.objects.create(**key)
            except IntegrityError:
                pass
        found = select()
    return found


def _chunks(seq, n):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


@action
def file_items(actor, item_ids) -> dict:
    """File pending items: class by (全宗, 门类, 年度, 保管期限, 机构), order by (日期, id),
    give each the next 件号 of its class and its 档号. All or nothing: one item that lacks a
    required element (or is already filed, or out of reach) refuses the whole batch."""
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        raise ActionError("请先选择要归档的条目。")
    rows = []
    for part in _chunks(ids, 5000):
        rows += list(Item.objects.filter(pk__in=part).select_for_update(of=("self",)).order_by("id").values(*_ROW))
    if len(rows) != len(ids):
        raise ActionError("部分条目不存在或不在您的数据范围内。")
    fonds = {f.pk: f for f in Fonds.objects.filter(pk__in={r["fonds_id"] for r in rows}).select_related("unit")}
    for f in fonds.values():
        if not can(actor, CHANGE, f):
            raise PermissionDenied("您没有对该对象执行此操作的权限。")
        if not staff_reach(actor, f.unit):  # 档号 are the records office's to give
            raise PermissionDenied("归档（编制档号）须由档案管理人员办理；基层填报员登记的档案由上级单位归档。")
    needs_org = set(OrgCode.objects.filter(fonds_id__in=fonds).values_list("fonds_id", flat=True).distinct())
    errors, named = [], []
    for r in rows:
        label = f"“{r['title'] or '（无题名）'}”（条目 {r['id']}）"
        if r["status"] != Item.Status.PENDING:
            errors.append(f"{label}已归档，不能重复归档。")
            named.append((r["id"], "filed"))
            continue
        missing = missing_elements(r, r["fonds_id"] in needs_org)
        if missing:
            errors.append(f"{label}缺少必著项：{'、'.join(missing)}。")
            named.append((r["id"], "missing"))
    if errors:
        refused = ActionError(errors)
        refused.named_items = named  # (item id, why) per message, so a page can link each line to its item
        raise refused

    classes = defaultdict(list)
    for r in rows:
        classes[(r["fonds_id"], r["category_id"], r["year"], r["retention"], r["org_code__code"] or "")].append(r)
    batch = uuid.uuid4().hex
    now = timezone.now()
    updates, summary, counter_updates = [], [], []
    counters = _locked_counters([{"fonds_id": k[0], "category_id": k[1], "year": k[2], "retention": k[3],
                                  "org": k[4]} for k in classes])
    formats = {pk: numbering.format_for(f) for pk, f in fonds.items()}  # the fonds' 档号 format now
    for key in sorted(classes):
        fonds_id, category_id, year, retention, org = key
        members = sorted(classes[key], key=lambda r: (r["date"], r["id"]))
        counter = counters[key]
        first = counter.last_no + 1
        for n, r in enumerate(members, start=first):
            code = formats[fonds_id].render(fonds[fonds_id].code, r["category__code"], year, retention, org, n)
            updates.append((n, code, Item.Status.FILED, now, batch, r["id"]))
        last = counter.last_no + len(members)
        counter_updates.append((last, counter.pk))
        summary.append({"class": archival_code(fonds[fonds_id].code, members[0]["category__code"], year, retention,
                                               org, 0)[:-5], "first": first, "last": last,
                        "item_ids": [r["id"] for r in members]})
    table = Item._meta.db_table
    qn = connection.ops.quote_name
    sql = (f"UPDATE {qn(table)} SET {qn('piece_no')} = %s, {qn('archival_code')} = %s, {qn('status')} = %s, "
           f"{qn('filed_at')} = %s, {qn('filing_batch')} = %s WHERE {qn('id')} = %s")
    field = Item._meta.get_field("filed_at")
    when = field.get_db_prep_value(now, connection)
    with connection.cursor() as cur:
        for part in _chunks(updates, 5000):
            cur.executemany(sql, [(n, c, s, when, b, i) for n, c, s, _, b, i in part])
        cur.executemany(f"UPDATE {qn(FilingCounter._meta.db_table)} SET {qn('last_no')} = %s WHERE {qn('id')} = %s",
                        counter_updates)
    # One change-log row per batch (as imports do): which items got which 件号, class by class.
    first_fonds = fonds[rows[0]["fonds_id"]]
    log_change(actor, "records.file_items", None, None, {"batch": batch, "count": len(rows), "classes": summary},
               unit_path=first_fonds.unit.path, obj_type="records.filing", obj_id=batch,
               obj_repr=f"归档 {len(rows)} 件（{summary[0]['class']} 等 {len(summary)} 类）")
    search.enqueue(ids)  # the new 档号 are searchable after the commit
    return {"batch": batch, "count": len(rows), "classes": summary}


@action
def renumber_item(actor, item: Item, *, piece_no: int, reason: str) -> Item:
    """Move a filed item to another position of its class; the items in between shift by
    one, so the class stays gapless. A destroyed entry in the way refuses the move (it keeps
    its 件号). Every changed 档号 is in the change-log row."""
    require_keeper(actor, item)
    if not item.is_filed:
        raise ActionError("只有已归档的条目才有件号。")
    if not (reason or "").strip():
        raise ActionError("请填写调整件号的原因。")
    org = item.org_code.code if item.org_code_id else ""
    counter = _locked_counter({"fonds_id": item.fonds_id, "category_id": item.category_id, "year": item.year,
                               "retention": item.retention, "org": org})
    if not 1 <= piece_no <= counter.last_no:
        raise ActionError(f"件号应在 1 至 {counter.last_no} 之间。")
    old = item.piece_no
    if piece_no == old:
        raise ActionError("新件号与原件号相同。")
    lo, hi = sorted((old, piece_no))
    org_filter = {"org_code__code": org} if org else {"org_code__isnull": True}
    in_range = Item.objects.select_for_update(of=("self",)).filter(
        fonds_id=item.fonds_id, category_id=item.category_id, year=item.year, retention=item.retention,
        piece_no__gte=lo, piece_no__lte=hi, **org_filter)
    # a destroyed entry keeps its 件号 and 档号 for ever (its catalogue entry stays): the move
    # may neither land on it nor shift it
    destroyed = sorted(in_range.filter(status=Item.Status.DISPOSED).values_list("piece_no", flat=True))
    if destroyed:
        raise ActionError(f"件号 {'、'.join(map(str, destroyed))} 为已销毁条目，其件号永久保留；"
                          f"调整件号不能跨越或占用已销毁条目的件号。")
    same_class = in_range.filter(status=Item.Status.FILED)
    affected = list(same_class.select_related("category").order_by("piece_no"))
    shift = -1 if piece_no > old else 1
    changes = {}
    fmt = numbering.format_for(item.fonds)  # renumbering writes codes in the fonds' current format
    for it in affected:
        new_no = piece_no if it.pk == item.pk else it.piece_no + shift
        changes[it.pk] = (it.piece_no, it.archival_code, new_no,
                          fmt.render(item.fonds.code, it.category.code, it.year, it.retention, org, new_no))
    for it in affected:  # two passes: no transient clash on the unique 档号
        Item.objects.filter(pk=it.pk).update(archival_code=f"~{it.pk}")
    for pk, (_, _, new_no, code) in changes.items():
        Item.objects.filter(pk=pk).update(piece_no=new_no, archival_code=code)
    log_change(actor, "records.renumber_item", item, {"piece_no": old, "archival_code": item.archival_code},
               {"piece_no": piece_no, "archival_code": changes[item.pk][3], "reason": reason,
                "shifted": {str(pk): [c[1], c[3]] for pk, c in changes.items()}},
               unit_path=item.fonds.unit.path)
    search.enqueue(changes)
    item.refresh_from_db()
    return item
