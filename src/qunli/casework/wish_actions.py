"""The verbs of wishes (微心愿) and of the practical-projects list (我为群众办实事).

Wish lifecycle::

    collect → 待审核 ─approve→ 已审核待发布 ─publish→ 已发布待认领 ─claim (portal)→ 已认领 ─fulfil→ 已圆梦
                    └reject→ 未通过                 ↑└unpublish→ 已审核待发布   │
                                                    └──────── cancel_claim ───────┘

Each verb runs in one transaction, checks CHANGE on the wish's unit (unit-grant scoped,
like pairing), refuses an illegal transition in Chinese and appends its change-log row.
Every transition is one conditional UPDATE (``WHERE pk = … AND status = <expected>``): of two
concurrent requests only the one whose UPDATE matched a row goes on, the other is refused —
that is what makes a wish claimable exactly once. The donor's phone is sealed with
``core.crypto`` (ciphertext, blind index, mask) and opened only by ``reveal_donor``
(access-logged). Fulfilment photos go through pairing's photo check and store
(``pairing_actions._photo``: JPEG/PNG, size, leading bytes, SM3, stored once). A claim
from the portal tells the wish unit's staff (``staff_of_unit``), after the commit."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone

from qunli.core import crypto
from qunli.core.actions import ActionError, action, clean_text
from qunli.core.audit import log_access, log_change, snapshot
from qunli.core.identifiers import InvalidIdentifier, validate_phone
from qunli.core.notifications import Kind as NoticeKind
from qunli.core.notifications import notify, staff_of_unit
from qunli.core.scoping import CHANGE, VIEW, can
from qunli.people.models import Person

from .actions import PORTAL_ACCOUNT
from .models import PracticalProject, ServedPerson, Wish, WishCategory, age_range, mask_name, public_name
from .pairing_actions import _photo

AMOUNT_MAX = Decimal("100000")
S = Wish.Status


def _require(actor, obj, message: str = "您没有该单位微心愿工作的权限。") -> None:
    if not can(actor, CHANGE, obj):
        raise PermissionDenied(message)


def _log(actor, name: str, obj, before, **kw) -> None:
    log_change(actor, f"casework.{name}", obj, before, snapshot(obj), unit_path=obj.unit.path, **kw)


def _amount(value) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError, TypeError) as e:
        raise ActionError("预计金额须为数字（元）。") from e
    if not Decimal("0") < amount <= AMOUNT_MAX:
        raise ActionError(f"预计金额须大于0且不超过{AMOUNT_MAX:,.0f}元。")
    return amount


def _transition(actor, wish: Wish, frm: tuple, to: str, refusal: str, **fields) -> tuple[Wish, dict]:
    """Move ``wish`` from one of ``frm`` to ``to`` with one conditional UPDATE. Returns the
    fresh row and the snapshot before; refuses (nothing written) when another request moved
    it first or the transition is not allowed from its current state."""
    current = Wish.objects.select_related("unit").filter(pk=wish.pk).first()
    if current is None:
        raise PermissionDenied("微心愿不存在。")
    _require(actor, current)
    before = snapshot(current)
    if current.status not in frm:
        raise ActionError(refusal.format(status=current.get_status_display()))
    n = Wish.objects.filter(pk=current.pk, status=current.status).update(status=to, **fields)
    if n != 1:  # moved by a concurrent request between the read and the update
        raise ActionError("该微心愿刚被其他人处理过，请刷新后重试。")
    current.refresh_from_db()
    return current, before


@action
def collect_wish(actor, *, served, unit, category: str, text: str, amount) -> Wish:
    """Record a wish of a person served (``served``: a ServedPerson, or a people.Person who is
    registered as one under ``unit`` when they are not yet)."""
    if unit is None:
        raise ActionError("请选择负责单位。")
    _require(actor, unit, "您没有在该单位登记微心愿的权限。")
    if not unit.is_active:
        raise ActionError(f"“{unit.name}”已撤销、合并或拆分，不能再登记微心愿。")
    person = served.person if isinstance(served, ServedPerson) else served
    if not isinstance(person, Person) or not can(actor, VIEW, person):
        raise ActionError("请选择您数据范围内的服务对象。")
    if category not in WishCategory.values:
        raise ActionError("请选择心愿类别。")
    text = clean_text(text, "心愿内容", limit=200)
    amount = _amount(amount)
    if not isinstance(served, ServedPerson):
        served = ServedPerson.objects.filter(person=person).first() or \
            ServedPerson.objects.create(person=person, unit=unit)
    w = Wish.objects.create(served=served, unit=unit, category=category, text=text, amount=amount,
                            served_name_mask=mask_name(person.name), created_by=actor)
    _log(actor, "collect_wish", w, None)
    return w


@action
def approve_wish(actor, wish: Wish) -> Wish:
    w, before = _transition(actor, wish, (S.PENDING,), S.APPROVED, "只有待审核的微心愿可以审核通过（当前：{status}）。",
                            reviewed_by=actor, reviewed_at=timezone.now(), reject_reason="")
    _log(actor, "approve_wish", w, before)
    return w


@action
def reject_wish(actor, wish: Wish, *, reason: str) -> Wish:
    reason = clean_text(reason, "未通过原因", limit=200)
    w, before = _transition(actor, wish, (S.PENDING, S.APPROVED), S.REJECTED,
                            "只有待审核或尚未发布的微心愿可以退回（当前：{status}）。",
                            reviewed_by=actor, reviewed_at=timezone.now(), reject_reason=reason)
    _log(actor, "reject_wish", w, before)
    return w


@action
def publish_wish(actor, wish: Wish) -> Wish:
    """发布 on the portal's wall. The public name and age range are fixed now, from the
    person record; nothing else about the person is ever copied to the wish."""
    current = Wish.objects.select_related("served__person").filter(pk=wish.pk).first()
    if current is None:
        raise PermissionDenied("微心愿不存在。")
    person = current.served.person
    w, before = _transition(actor, current, (S.APPROVED,), S.PUBLISHED, "只有审核通过的微心愿可以发布（当前：{status}）。",
                            published_at=timezone.now(), public_name=public_name(person.name),
                            age_range=age_range(person.birth_date))
    _log(actor, "publish_wish", w, before)
    return w


@action
def unpublish_wish(actor, wish: Wish) -> Wish:
    w, before = _transition(actor, wish, (S.PUBLISHED,), S.APPROVED,
                            "只有已发布且未被认领的微心愿可以撤回（当前：{status}）。", published_at=None)
    _log(actor, "unpublish_wish", w, before)
    return w


def _is_portal(actor) -> bool:
    return actor.username == PORTAL_ACCOUNT and not actor.has_usable_password() and actor.is_business


def _donor(name: str, phone: str, org: str) -> tuple[str, str, dict]:
    name = clean_text(name, "认领人姓名", limit=50)
    org = clean_text(org, "单位或组织", required=False, limit=100)
    try:
        phone = validate_phone(phone)
    except InvalidIdentifier as e:
        raise ActionError("请填写正确的联系电话。") from e
    return name, org, crypto.seal("phone", phone)


def _claim(actor, current: Wish, name: str, org: str, sealed: dict, log_name: str) -> Wish:
    """Exactly once: the UPDATE only matches while the wish is still 已发布待认领."""
    before = snapshot(current)
    n = Wish.objects.filter(pk=current.pk, status=S.PUBLISHED).update(
        status=S.CLAIMED, donor_name=name, donor_org=org, donor_phone_enc=sealed["phone_enc"],
        donor_phone_hash=sealed["phone_hash"], donor_phone_mask=sealed["phone_mask"], claimed_at=timezone.now())
    if n != 1:
        raise ActionError("很抱歉，该微心愿已被其他爱心人士认领。")
    current.refresh_from_db()
    _log(actor, log_name, current, before)
    # the wish's number and category only: neither the donor nor the person served
    notify(staff_of_unit(current.unit, current.unit.line_id), NoticeKind.WISH_CLAIMED,
           f"微心愿#{current.pk}（{current.get_category_display()}）已被认领，请联系认领人跟进圆梦", obj=current,
           exclude=actor)
    return current


@action
def claim_wish(actor, wish_id: int, *, name: str, phone: str, org: str = "") -> Wish:
    """A donor claims a published wish on the portal (the actor is the portal's system
    account)."""
    if not _is_portal(actor):
        raise PermissionDenied("只有网上群团系统账户可以登记认领。")
    name, org, sealed = _donor(name, phone, org)
    current = Wish.objects.select_related("unit").filter(pk=wish_id).first()
    if current is None or current.status not in (S.PUBLISHED, S.CLAIMED, S.FULFILLED):
        raise ActionError("该微心愿不存在或未发布。")
    return _claim(actor, current, name, org, sealed, "claim_wish")


@action
def record_claim(actor, wish: Wish, *, name: str, phone: str, org: str = "") -> Wish:
    """A donor who came forward off the portal — on the phone, at the office, a unit pairing
    up with wishes (结对认领) — recorded by staff with CHANGE on the wish's unit. The same
    exactly-once rule as the portal's claim: whichever comes first wins."""
    current = Wish.objects.select_related("unit").filter(pk=wish.pk).first()
    if current is None:
        raise PermissionDenied("微心愿不存在。")
    _require(actor, current)
    if current.status not in (S.PUBLISHED, S.CLAIMED, S.FULFILLED):  # the last two: "已被认领"
        raise ActionError(f"只有已发布待认领的微心愿可以登记认领（当前：{current.get_status_display()}），请先发布。")
    name, org, sealed = _donor(name, phone, org)
    return _claim(actor, current, name, org, sealed, "record_claim")


@action
def cancel_claim(actor, wish: Wish, *, reason: str) -> Wish:
    """The donor withdrew: the wish goes back on the wall, the donor's details are cleared
    (the change log keeps who it was, the phone only as its mask)."""
    reason = clean_text(reason, "取消原因", limit=200)
    w, before = _transition(actor, wish, (S.CLAIMED,), S.PUBLISHED, "只有已认领未圆梦的微心愿可以取消认领（当前：{status}）。",
                            donor_name="", donor_org="", donor_phone_enc="", donor_phone_hash="",
                            donor_phone_mask="", claimed_at=None)
    log_change(actor, "casework.cancel_claim", w, before, {**snapshot(w), "reason": reason}, unit_path=w.unit.path)
    return w


@action
def fulfil_wish(actor, wish: Wish, *, photo) -> Wish:
    """圆梦, confirmed with a photo (checked, hashed and stored before the state changes; a
    refused photo changes nothing)."""
    current = Wish.objects.select_related("unit").filter(pk=wish.pk).first()
    if current is None:
        raise PermissionDenied("微心愿不存在。")
    _require(actor, current)
    if current.status != S.CLAIMED:
        raise ActionError(f"只有已认领的微心愿可以确认圆梦（当前：{current.get_status_display()}）。")
    if not photo:
        raise ActionError("请上传圆梦照片。")
    cols = _photo(photo)
    w, before = _transition(actor, current, (S.CLAIMED,), S.FULFILLED, "只有已认领的微心愿可以确认圆梦（当前：{status}）。",
                            fulfilled_at=timezone.now(), fulfilled_by=actor, **cols)
    _log(actor, "fulfil_wish", w, before)
    return w


def reveal_donor(actor, wish: Wish, purpose: str = "") -> str:
    """The donor's phone in the clear, for staff with CHANGE on the wish; access-logged first."""
    _require(actor, wish, "只有负责该微心愿的工作人员可以查看认领人电话。")
    if not wish.donor_phone_enc:
        raise ActionError("该微心愿没有认领人电话。")
    log_access(actor, wish, ["donor_phone"], purpose or "联系认领人")
    return crypto.decrypt(wish.donor_phone_enc)


def open_wish_photo(actor, wish: Wish):
    """The fulfilment photo (an open file), for staff with CHANGE; access-logged (it may show
    the child)."""
    _require(actor, wish, "只有负责该微心愿的工作人员可以查看圆梦照片。")
    if not wish.photo_name:
        raise ActionError("该微心愿没有圆梦照片。")
    log_access(actor, wish, ["fulfil_photo"], f"圆梦照片 #{wish.pk}")
    return default_storage.open(wish.photo_name, "rb")


# --- the practical-projects list (我为群众办实事) ------------------------------------------------

P = PracticalProject.Status


def _project_fields(title, description, deadline) -> tuple[str, str]:
    title = clean_text(title, "项目名称", limit=100)
    description = clean_text(description, "项目内容", limit=2000)
    if deadline is None:
        raise ActionError("请填写完成时限。")
    return title, description


def _lock_project(actor, project) -> PracticalProject:
    p = PracticalProject.objects.select_for_update().filter(pk=project.pk).first()
    if p is None:
        raise PermissionDenied("项目不存在。")
    p = PracticalProject.objects.select_related("unit").get(pk=p.pk)
    _require(actor, p, "您没有修改该项目的权限。")
    return p


def _plog(actor, name, p, before, **extra) -> None:
    log_change(actor, f"casework.{name}", p, before, {**snapshot(p), **extra}, unit_path=p.unit.path)


@action
def create_project(actor, *, unit, title: str, description: str, deadline) -> PracticalProject:
    if unit is None:
        raise ActionError("请选择责任单位。")
    _require(actor, unit, "您没有为该单位建立办实事项目的权限。")
    if not unit.is_active:
        raise ActionError(f"“{unit.name}”已撤销、合并或拆分，不能再建立办实事项目。")
    title, description = _project_fields(title, description, deadline)
    p = PracticalProject.objects.create(unit=unit, title=title, description=description, deadline=deadline,
                                        created_by=actor)
    _plog(actor, "create_project", p, None)
    return p


ALLOWED_STATUS = {P.PLANNED: {P.IN_PROGRESS, P.DELAYED}, P.IN_PROGRESS: {P.DELAYED, P.PLANNED},
                  P.DELAYED: {P.IN_PROGRESS}, P.COMPLETED: set()}


@action
def set_project_status(actor, project, *, status: str, deadline=None) -> PracticalProject:
    """计划 / 推进中 / 已延期 (with an optional new deadline). 已完成 only through
    ``complete_project``, with its result; a completed project does not move back."""
    p = _lock_project(actor, project)
    if status == P.COMPLETED:
        raise ActionError("标记已完成请填写完成情况（“完成”操作）。")
    if status not in P.values:
        raise ActionError("请选择状态。")
    if status not in ALLOWED_STATUS[p.status]:
        raise ActionError(f"项目状态不能从“{p.get_status_display()}”改为“{P(status).label}”。")
    before = snapshot(p)
    p.status = status
    if deadline is not None:
        p.deadline = deadline
    p.save(update_fields=["status", "deadline"])
    _plog(actor, "set_project_status", p, before)
    return p


@action
def complete_project(actor, project, *, result: str) -> PracticalProject:
    p = _lock_project(actor, project)
    if p.status == P.COMPLETED:
        raise ActionError("该项目已完成。")
    before = snapshot(p)
    p.result = clean_text(result, "完成情况", limit=2000)
    p.status, p.completed_at = P.COMPLETED, timezone.now()
    p.save(update_fields=["result", "status", "completed_at"])
    _plog(actor, "complete_project", p, before)
    return p


@action
def publish_project(actor, project, *, publish: bool = True) -> PracticalProject:
    p = _lock_project(actor, project)
    if bool(publish) == p.is_published:
        raise ActionError("该项目已公开。" if publish else "该项目尚未公开。")
    before = snapshot(p)
    p.is_published, p.published_at = bool(publish), (timezone.now() if publish else None)
    p.save(update_fields=["is_published", "published_at"])
    _plog(actor, "publish_project" if publish else "unpublish_project", p, before)
    return p


def wall_wishes():
    """The portal's read: wishes on the wall, with the unit's name; no person is joined."""
    return Wish.objects.on_wall().select_related("unit").only(
        "id", "category", "text", "amount", "status", "public_name", "age_range", "published_at", "claimed_at",
        "fulfilled_at", "unit__id", "unit__name")


def published_projects():
    return PracticalProject.objects.filter(is_published=True).select_related("unit").order_by(
        F("deadline").asc(), "id")
