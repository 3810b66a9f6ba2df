"""The verbs of pairing (结对帮扶 / 结对帮教): create a pairing, log a visit, end a pairing,
set a unit's target, and reveal visit notes or a photo (access-logged). Each runs in one
transaction, checks the unit grant (``can``) of the pairing's unit, validates with Chinese
messages and appends its change-log row. Visit notes are sealed (AES-GCM) before they are
stored; photos are checked (JPEG/PNG, size, leading bytes), SM3-hashed and stored once under
``pairing/<sm3[:2]>/<sm3>`` of the default storage."""

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from qunli.core import crypto
from qunli.core.actions import ActionError, action, clean_text
from qunli.core.audit import log_access, log_change, snapshot
from qunli.core.scoping import CHANGE, VIEW, can
from qunli.people.models import CadreProfile, Person, VolunteerProfile

from .models import (
    Category,
    Pairing,
    PairingKind,
    PairingTarget,
    ServedPerson,
    Visit,
    VisitType,
    mask_name,
    pairing_rule,
)
from .stored_files import store_by_digest

PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_TYPES = {"jpg": ("image/jpeg", b"\xff\xd8\xff"), "jpeg": ("image/jpeg", b"\xff\xd8\xff"),
               "png": ("image/png", b"\x89PNG\r\n\x1a\n")}


def _require(actor, obj, act: str = CHANGE, message: str = "您没有该单位结对工作的权限。") -> None:
    if not can(actor, act, obj):
        raise PermissionDenied(message)




def is_helper(person: Person) -> bool:
    """A 五老 volunteer in service or a cadre may be a helper."""
    return (VolunteerProfile.objects.filter(person=person, status=VolunteerProfile.Status.ACTIVE).exists()
            or CadreProfile.objects.filter(person=person).exists())


def _lock(actor, pairing: Pairing) -> Pairing:
    p = Pairing.objects.select_for_update().filter(pk=pairing.pk).first()
    if p is None:
        raise PermissionDenied("结对不存在。")
    p = Pairing.objects.select_related("unit", "helper").get(pk=p.pk)
    _require(actor, p)
    return p


def _log(actor, name: str, obj, before, after=None, **kw) -> None:
    unit = obj.unit if hasattr(obj, "unit") else obj.pairing.unit
    log_change(actor, f"casework.{name}", obj, before, after if after is not None else snapshot(obj),
               unit_path=unit.path, **kw)


@action
def create_pairing(actor, *, helper: Person, served, kind: str, category: str, unit, started_on: dt.date | None = None,
                   min_visits_per_month: int | None = None) -> Pairing:
    """结对: ``served`` is a casework.ServedPerson or a people.Person (registered as a person
    served under ``unit`` when they are not one yet)."""
    _require(actor, unit, message="您没有在该单位建立结对的权限。")
    if kind not in PairingKind.values:
        raise ActionError("请选择结对类型（帮扶或帮教）。")
    if category not in Category.values:
        raise ActionError("请选择服务对象类别。")
    if helper is None or not can(actor, VIEW, helper):
        raise ActionError("请选择您数据范围内的帮扶人。")
    if not is_helper(helper):
        raise ActionError(f"{helper.name}不是在岗的五老志愿者或群团干部，不能担任帮扶人。")
    person = served.person if isinstance(served, ServedPerson) else served
    if person is None or not can(actor, VIEW, person):
        raise ActionError("请选择您数据范围内的服务对象。")
    if person.pk == helper.pk:
        raise ActionError("帮扶人和服务对象不能是同一人。")
    started_on = started_on or timezone.localdate()
    if started_on > timezone.localdate():
        raise ActionError("结对日期不能晚于今天。")
    if min_visits_per_month is None:
        min_visits_per_month = pairing_rule(kind)["min_visits_per_month"]
    if not 1 <= int(min_visits_per_month) <= 31:
        raise ActionError("每月最少走访次数须为1到31。")
    if not isinstance(served, ServedPerson):
        served = ServedPerson.objects.filter(person=person).first() or \
            ServedPerson.objects.create(person=person, unit=unit, categories=[category])
    if Pairing.objects.filter(helper=helper, served=served, kind=kind, ended_on__isnull=True).exists():
        raise ActionError(f"{helper.name}与该服务对象已有进行中的{PairingKind(kind).label}结对。")
    try:
        with transaction.atomic():
            p = Pairing.objects.create(helper=helper, served=served, kind=kind, category=category, unit=unit,
                                       started_on=started_on, min_visits_per_month=int(min_visits_per_month),
                                       served_name_mask=mask_name(person.name))
    except IntegrityError as e:  # a concurrent request created the same pairing
        raise ActionError(f"{helper.name}与该服务对象已有进行中的{PairingKind(kind).label}结对。") from e
    _log(actor, "create_pairing", p, None)
    return p


def check_photo(f) -> str:
    """Refuse (ActionError) an upload that is not a JPEG or PNG photo within the size limit —
    by extension, declared size and leading bytes; its MIME type when it is one. Stores
    nothing: forms call it to report a bad photo together with their other errors."""
    name = getattr(f, "name", "") or ""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in PHOTO_TYPES:
        raise ActionError("照片只能是 JPG 或 PNG 格式。")
    size = getattr(f, "size", None)
    if size is not None and size > PHOTO_MAX_BYTES:
        raise ActionError(f"照片不能超过 {PHOTO_MAX_BYTES // 1024 // 1024} MB。")
    f.seek(0)
    head = f.read(16)
    mime, magic = PHOTO_TYPES[ext]
    if not head:
        raise ActionError("照片是空文件。")
    if not head.startswith(magic):
        raise ActionError("照片内容与扩展名不符或文件已损坏。")
    f.seek(0)
    return mime


def _photo(f) -> dict:
    """Check, hash (SM3) and store an uploaded photo; the stored columns of the visit."""
    if isinstance(f, tuple):
        f = ContentFile(f[1], name=f[0])
    mime = check_photo(f)
    storage_name, digest, total, _ = store_by_digest(f, "pairing", PHOTO_MAX_BYTES,
                                                     f"照片不能超过 {PHOTO_MAX_BYTES // 1024 // 1024} MB。")
    return {"photo_name": storage_name, "photo_sm3": digest, "photo_mime": mime, "photo_size": total}


@action
def log_visit(actor, pairing: Pairing, *, on: dt.date, kind: str, notes: str = "", photo=None) -> Visit:
    p = _lock(actor, pairing)
    if not p.is_active:
        raise ActionError("该结对已结束，不能再登记走访。")
    if kind not in VisitType.values:
        raise ActionError("请选择走访方式（入户、电话或线上）。")
    if on is None or on > timezone.localdate():
        raise ActionError("走访日期不能晚于今天。")
    if on < p.started_on:
        raise ActionError("走访日期不能早于结对日期。")
    notes = clean_text(notes, "走访记录", required=False, limit=5000)
    photo_cols = _photo(photo) if photo else {}
    v = Visit.objects.create(pairing=p, on=on, kind=kind, notes_enc=crypto.encrypt(notes) if notes else "",
                             recorded_by=actor, **photo_cols)
    _log(actor, "log_visit", v, None, obj_repr=f"{p} 走访 {on:%Y-%m-%d}")
    return v


@action
def end_pairing(actor, pairing: Pairing, *, reason: str, ended_on: dt.date | None = None) -> Pairing:
    p = _lock(actor, pairing)
    if not p.is_active:
        raise ActionError("该结对已结束。")
    ended_on = ended_on or timezone.localdate()
    if ended_on > timezone.localdate():
        raise ActionError("结束日期不能晚于今天。")
    if ended_on < p.started_on:
        raise ActionError("结束日期不能早于结对日期。")
    before = snapshot(p)
    p.ended_on, p.end_reason = ended_on, clean_text(reason, "结束原因", limit=200)
    p.save(update_fields=["ended_on", "end_reason"])
    _log(actor, "end_pairing", p, before)
    return p


@action
def set_target(actor, *, unit, year: int, kind: str, category: str, target: int) -> PairingTarget:
    _require(actor, unit, message="您没有为该单位设定结对目标的权限。")
    if kind not in PairingKind.values:
        raise ActionError("请选择结对类型。")
    if category not in Category.values:
        raise ActionError("请选择服务对象类别。")
    try:
        year, target = int(year), int(target)
    except (TypeError, ValueError) as e:
        raise ActionError("年度和目标人数须为整数。") from e
    if not 2000 <= year <= 2100:
        raise ActionError("年度无效。")
    if target < 1:
        # a target of 0 reads as 已设定 yet makes every completion rate meaningless
        raise ActionError("目标人数须至少为1人。")
    if target > 10_000_000:
        raise ActionError("目标人数无效。")
    t = PairingTarget.objects.select_for_update().filter(unit=unit, year=year, kind=kind, category=category).first()
    before = snapshot(t) if t else None
    t = t or PairingTarget(unit=unit, year=year, kind=kind, category=category)
    t.target, t.set_by, t.set_at = target, actor, timezone.now()
    t.save()
    log_change(actor, "casework.set_target", t, before, snapshot(t), unit_path=unit.path)
    return t


# --- sealed content -------------------------------------------------------------------------

def reveal_visits(actor, pairing: Pairing, purpose: str = "") -> dict[int, str]:
    """Plaintext visit notes of one pairing, for staff with write reach; access-logged first."""
    _require(actor, pairing, message="只有负责该结对的工作人员可以查看走访记录。")
    log_access(actor, pairing, ["visit_notes"], purpose or "结对走访记录")
    return {v.pk: crypto.decrypt(v.notes_enc) for v in pairing.visits.all() if v.notes_enc}


def open_photo(actor, visit: Visit):
    """The stored photo of a visit (an open file), for staff with write reach; access-logged."""
    _require(actor, visit, message="只有负责该结对的工作人员可以查看走访照片。")
    if not visit.photo_name:
        raise ActionError("该次走访没有照片。")
    log_access(actor, visit.pairing, ["visit_photo"], f"走访照片 #{visit.pk}")
    return default_storage.open(visit.photo_name, "rb")
