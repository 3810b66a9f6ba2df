"""The verbs of wishes (微心愿) and of the practical-projects list (我为群众办实事).

Wish lifecycle::

    collect → 待审核 ─approve→ 已审核待发布 ─publish→ 已发布待认领 ─claim (portal)→ 已认领 ─fulfil→ 已圆梦
                    └reject→ 未通过                 ↑└unpublish→ 已审核待发布   │
                                                    └──────── cancel_claim ───────┘

Each verb runs in one transaction, checks CHANGE on the wish's unit (unit-grant scoped,
like pairing), refuses an illegal transition in Chinese and appends its change-log row.
The wish's text goes on a public page, so collecting, editing, approving and publishing all
refuse text that names the person served, their guardian, school or employer, or carries a
phone- or ID-number-like digit run (``identifying_detail``); and approval is four-eyes: not
by whoever registered or edited the text. ``edit_wish`` sends a wish back to 待审核.
Every transition is one conditional UPDATE (``WHERE pk = … AND status = <expected>``): of two
concurrent requests only the one whose UPDATE matched a row goes on, the other is refused —
that is what makes a wish claimable exactly once. The donor's phone is sealed with
``core.crypto`` (ciphertext, blind index, mask) and opened only by ``reveal_donor``
(access-logged). Fulfilment photos go through pairing's photo check and store
(``pairing_actions._photo``: JPEG/PNG, size, leading bytes, SM3, stored once). A claim
from the portal tells the wish unit's staff (``staff_of_unit``), after the commit."""

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone

from qunli.core import crypto
from qunli.core.actions import ActionError, action, clean_text
from qunli.core.audit import log_access, log_change, snapshot
from qunli.core.identifiers import InvalidIdentifier, validate_phone
from qunli.core.models import ChangeLog
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


def _amount(value, label: str = "预计金额") -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError, TypeError) as e:
        raise ActionError(f"{label}须为数字（元）。") from e
    if not Decimal("0") < amount <= AMOUNT_MAX:
        raise ActionError(f"{label}须大于0且不超过{AMOUNT_MAX:,.0f}元。")
    return amount


# --- what must not reach the public wall ------------------------------------------------------------

# Two-character family names, so that the given name is what follows them. An unlisted one
# only means its second character is taken as part of the given name: that errs on refusing.
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文",
                     "司徒", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "呼延", "申屠", "万俟", "澹台", "钟离")
# Seven digits or more in a row (mobile, landline, ID number, QQ) or a mobile written in groups;
# shorter runs are amounts, years and class numbers.
_DIGIT_RUN = re.compile(r"\d{7,}[Xx]?|1\d{2}[ -]\d{4}[ -]\d{4}")
# An institution's name ends in one of these: "城关初级中学初二(3)班" still yields "城关初级中学".
_INSTITUTION = re.compile(r".+(?:小学|中学|学校|幼儿园|大学|学院|公司|医院|银行|厂|合作社|委员会|中心|站|所)")
_PIECES = re.compile(r"[\s,，、;；/／()（）·]+")


def _given_names(name: str) -> list[str]:
    parts = [p for p in re.split(r"[·•.]", name) if p]
    if len(parts) > 1:  # 买买提·艾力: every part is a name
        return [p for p in parts if len(p) >= 2]
    surname = next((s for s in COMPOUND_SURNAMES if name.startswith(s) and len(name) > len(s)), name[:1])
    given = name[len(surname):]
    return [given] if len(given) >= 2 else []


# Common words that begin like a pet name (小学 for 小+学, 星星灯 for 星星): an occurrence that
# is the start of one of these is that word, not the child.
_NICKNAME_WORDS = (
    "小学", "小时", "小组", "小区", "小说", "小孩", "小心", "小书包", "小书桌", "小车", "小吃", "小朋友", "小伙伴",
    "小提琴", "小号", "小班", "小队", "小型", "小红花", "小白兔", "小天鹅", "小天才", "小汽车", "小台灯", "小电扇",
    "小狗", "小猫", "小鱼", "小鸟", "小熊", "小兔", "小米", "小麦", "小姐", "小黄车", "小书架", "小灵通",
    "阿姨", "阿公", "阿婆", "阿爸", "阿妈", "阿哥", "阿姐", "阿弟", "阿妹", "阿胶",
    "天天", "星星", "妈妈", "爸爸", "哥哥", "姐姐", "弟弟", "妹妹", "奶奶", "爷爷", "姥姥", "叔叔", "伯伯", "舅舅",
    "婶婶", "看看", "好好", "常常", "慢慢", "刚刚", "渐渐", "个个", "人人", "年年", "往往", "点点", "多多", "试试",
    "想想", "说说", "听听", "走走", "明明", "悄悄", "偷偷", "轻轻", "静静", "高高", "大大", "小小", "满满",
)


def _nicknames(name: str) -> list[str]:
    """How a child is called at home and in the village: 小 or 阿 before a character of the
    given name, or that character doubled (杨欣怡 → 小欣, 小怡, 欣欣, 怡怡, 阿怡 …; 王芳 →
    小芳, 芳芳, 阿芳)."""
    parts = [p for p in re.split(r"[·•.]", name) if p]
    if len(parts) > 1 or len(name) < 2:
        return []  # a name in parts (买买提·艾力) is not shortened this way
    surname = next((s for s in COMPOUND_SURNAMES if name.startswith(s) and len(name) > len(s)), name[:1])
    chars = [c for c in name[len(surname):] if "\u4e00" <= c <= "\u9fff"]
    return [form for c in chars for form in ("小" + c, "阿" + c, c + c)]


def _nickname_in(text: str, nickname: str) -> bool:
    start = text.find(nickname)
    while start >= 0:
        if not any(w.startswith(nickname) and text.startswith(w, start) for w in _NICKNAME_WORDS):
            return True
        start = text.find(nickname, start + 1)
    return False


def _place_names(place: str) -> set[str]:
    # A short piece ("教师", "初二") is an ordinary word, not a place anyone can be found at.
    out = set()
    for piece in _PIECES.split(place or ""):
        out.add(piece)
        m = _INSTITUTION.match(piece)
        if m:
            out.update(_short_forms(m.group(0)))
    return {p for p in out if len(p) >= 3}


# How people shorten an institution's name (城关初级中学 → 城关中学 / 城关初中), and the
# leading place names they drop (秦安县第一中学 → 第一中学 → 秦安一中 keeps the county).
_SHORT_FORMS = (
    ("初级中学", ("中学", "初中")), ("高级中学", ("中学", "高中")), ("中心小学", ("小学",)), ("完全小学", ("小学",)),
    ("中心学校", ("学校",)), ("职业技术学校", ("职校", "职中")), ("职业中学", ("职中",)),
    ("股份有限公司", ("公司", "")), ("有限责任公司", ("公司", "")), ("有限公司", ("公司", "")),
)
_ORDINAL = re.compile(r"第([一二三四五六七八九十]+)(中学|小学)")
_REGION_PREFIX = re.compile(r"^(.{2,3}?)(?:省|市|县|区|镇|乡)")
# What is left when the distinctive part is gone: these alone identify nobody.
_GENERIC_STEM = re.compile(r"^(?:第?[一二三四五六七八九十]+|初级|高级|中心|完全|职业|县|镇|乡|市)?$")
_INSTITUTION_END = re.compile(r"(?:初级中学|高级中学|中心小学|完全小学|中心学校|职业技术学校|职业中学|小学|中学|初中|高中|"
                              r"学校|职校|职中|幼儿园|公司|[一二三四五六七八九十]+[中小])$")


def _short_forms(institution: str) -> set[str]:
    forms = {institution}
    for long, shorts in _SHORT_FORMS:
        for f in list(forms):
            if long in f:
                forms.update(f.replace(long, short) for short in shorts)
    todo = list(forms)
    while todo:  # 秦安县城关镇中心小学 → 城关镇中心小学 → 城关中心小学, 城关小学
        m = _REGION_PREFIX.match(f := todo.pop())
        if m:
            for shorter in (f[m.end():], m.group(1) + f[m.end():]):  # 秦安县第一中学 → 第一中学, 秦安第一中学
                if shorter not in forms:
                    forms.add(shorter)
                    todo.append(shorter)
    for f in list(forms):
        forms.add(_ORDINAL.sub(lambda o: o.group(1) + o.group(2)[0], f))  # 秦安第一中学 → 秦安一中
    return {f for f in forms if len(f) >= 3 and not _GENERIC_STEM.match(_INSTITUTION_END.sub("", f))}


# The parts of an address that point at a household's neighbourhood: a village or community,
# a residential compound, a street. Province, city, county and township are too broad to matter.
_ADDRESS_PART = re.compile(r"[^省市县区镇乡村组号楼室路街巷道]*?(?:村|社区|小区|花园|家园|新村|路|街|巷)")


def _address_names(address: str) -> set[str]:
    compact = re.sub(r"\s+", "", address or "")
    tail = re.sub(r"^.*?(?:镇|乡|街道)", "", compact)  # the township and above are dropped
    return {m.group(0) for m in _ADDRESS_PART.finditer(tail) if len(m.group(0)) >= 3}


_CHINESE_DIGITS = str.maketrans("〇零一二三四五六七八九幺", "001234567891")


def _pinyin_names(name: str) -> list[tuple[str, str]]:
    """The served person's full name and given name spelled in pinyin (every reading of a
    character with several: 曾 zeng/ceng), as (letters to look for, how to quote it)."""
    from itertools import islice, product

    from pypinyin import Style, pinyin

    out = []
    for part in [name, *_given_names(name)]:
        hans = re.sub(r"[^\u4e00-\u9fff]", "", part)
        if len(hans) < 2:
            continue
        readings = pinyin(hans, style=Style.NORMAL, heteronym=True)
        for spelled in islice(product(*readings), 16):
            out.append(("".join(spelled), " ".join(spelled)))
    return [(s, shown) for s, shown in out if len(s) >= 4]


def _masked_digits(run: str) -> str:
    return run[:3] + "*" * (len(run) - 7) + run[-4:] if len(run) >= 10 else run[:2] + "*" * (len(run) - 2)


def identifying_detail(text: str, *, name: str = "", guardian: str = "", places=(), address: str = "") -> str | None:
    """The first thing in ``text`` that would identify the person served on a public page, as
    a phrase for a refusal (服务对象的姓名“杨欣怡”), or None. Looked for: their full name and
    a given name of two characters or more, also in pinyin (yangxinyi, Xinyi); the pet names
    made from the given name (小芳, 芳芳, 阿芳), unless they begin a common word; the guardian's
    full name; the name of their school or employer and the short names people use for it
    (城关初级中学 → 城关中学, 城关初中; 秦安县第一中学 → 秦安一中); their village, community or
    street from the address (东风村, 幸福小区); and a phone- or ID-number-like digit run, also
    written in full-width or Chinese digits (一三九…). A one-character given name or a bare
    family name is not looked for: alone it is an ordinary word (芳, 王)."""
    compact = re.sub(r"\s+", "", text or "")
    name = re.sub(r"\s+", "", name or "")
    if len(name) >= 2 and (name in compact or name.replace("·", "") in compact):
        return f"服务对象的姓名“{name}”"
    for given in _given_names(name):
        if given in compact:
            return f"服务对象的名字“{given}”"
    for nickname in _nicknames(name):
        if _nickname_in(compact, nickname):
            return f"服务对象的昵称“{nickname}”"
    latin = re.sub(r"[^a-z]", "", unicodedata.normalize("NFKC", text or "").lower())
    for spelled, shown in _pinyin_names(name):
        if spelled in latin:
            return f"服务对象姓名的拼音“{shown}”"
    guardian = re.sub(r"\s+", "", guardian or "")
    if len(guardian) >= 2 and guardian in compact:
        return f"监护人的姓名“{guardian}”"
    for place in places:
        for piece in sorted(_place_names(place), key=len, reverse=True):
            if piece in compact:
                return f"服务对象的学校或工作单位“{piece}”"
    for piece in sorted(_address_names(address), key=len, reverse=True):
        if piece in compact:
            return f"服务对象的住址“{piece}”"
    digits = unicodedata.normalize("NFKC", text or "").translate(_CHINESE_DIGITS)
    m = _DIGIT_RUN.search(digits)
    if m:
        return f"疑似电话号码或身份证号的数字“{_masked_digits(re.sub(r'[ -]', '', m.group(0)))}”"
    return None


def _refuse_identifying(text: str, served: ServedPerson) -> None:
    person = served.person
    # The address is read here by the machine, for this check only: nobody is shown it (the
    # refusal quotes only what the writer typed), so it is not an access to log.
    found = identifying_detail(text, name=person.name, guardian=served.guardian_name,
                               places=(served.school_or_employer, person.workplace),
                               address=crypto.decrypt(person.address_enc) if person.address_enc else "")
    if found:
        raise ActionError(f"心愿内容含有{found}，公开前请删去可识别身份的信息。")


def is_author(wish: Wish, user) -> bool:
    """Whoever registered the wish or has edited its text since (the change log is the
    record of who edited it: the row keeps no list)."""
    return wish.created_by_id == user.pk or ChangeLog.objects.filter(
        object_type="casework.wish", object_id=str(wish.pk), action="casework.edit_wish", actor=user).exists()


def _fresh(wish) -> Wish:
    current = Wish.objects.select_related("unit", "served__person").filter(pk=wish.pk).first()
    if current is None:
        raise PermissionDenied("微心愿不存在。")
    return current


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
        served = ServedPerson.objects.filter(person=person).first() or ServedPerson(person=person, unit=unit)
    _refuse_identifying(text, served)
    if served.pk is None:
        served.save()
    w = Wish.objects.create(served=served, unit=unit, category=category, text=text, amount=amount,
                            served_name_mask=mask_name(person.name), created_by=actor)
    _log(actor, "collect_wish", w, None)
    return w


EDITABLE = (S.PENDING, S.APPROVED, S.REJECTED)


@action
def edit_wish(actor, wish: Wish, *, category: str | None = None, text: str | None = None, amount=None) -> Wish:
    """Correct a wish that is not on the wall (None keeps a field). It goes back to 待审核
    whatever its state: an approval was of the old text, and a rejected wish that is put
    right is submitted again."""
    current = _fresh(wish)
    _require(actor, current)
    if current.status not in EDITABLE:
        raise ActionError(f"只有未发布的微心愿可以修改（当前：{current.get_status_display()}），已发布的请先从心愿墙撤回。")
    category = current.category if category is None else category
    if category not in WishCategory.values:
        raise ActionError("请选择心愿类别。")
    text = current.text if text is None else clean_text(text, "心愿内容", limit=200)
    amount = current.amount if amount is None else _amount(amount)
    if (category, text, amount) == (current.category, current.text, current.amount):
        raise ActionError("没有修改任何内容。")
    _refuse_identifying(text, current.served)
    w, before = _transition(actor, current, EDITABLE, S.PENDING, "只有未发布的微心愿可以修改（当前：{status}）。",
                            category=category, text=text, amount=amount, reviewed_by=None, reviewed_at=None,
                            reject_reason="")
    _log(actor, "edit_wish", w, before)
    return w


@action
def approve_wish(actor, wish: Wish) -> Wish:
    """审核通过, by someone other than whoever wrote the text: the review is the one check
    between a staff member's typing and a public page."""
    current = _fresh(wish)
    _require(actor, current)
    if current.status == S.PENDING:  # any other state: _transition's refusal says why
        if is_author(current, actor):
            raise ActionError("心愿需由登记人以外的工作人员审核。")
        _refuse_identifying(current.text, current.served)
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
    current = _fresh(wish)
    _require(actor, current)
    person = current.served.person
    if current.status == S.APPROVED:  # checked again: the person's record may have changed since
        _refuse_identifying(current.text, current.served)
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
def fulfil_wish(actor, wish: Wish, *, photo, amount=None, note: str = "") -> Wish:
    """圆梦, confirmed with a photo (checked, hashed and stored before the state changes; a
    refused photo changes nothing), with what was actually spent (``amount``; the figures
    count the 预计金额 when it is not given) and a short note."""
    current = Wish.objects.select_related("unit").filter(pk=wish.pk).first()
    if current is None:
        raise PermissionDenied("微心愿不存在。")
    _require(actor, current)
    if current.status != S.CLAIMED:
        raise ActionError(f"只有已认领的微心愿可以确认圆梦（当前：{current.get_status_display()}）。")
    if not photo:
        raise ActionError("请上传圆梦照片。")
    spent = _amount(amount, "实际金额") if amount not in (None, "") else None
    note = clean_text(note, "圆梦说明", required=False, limit=200)
    cols = _photo(photo)
    w, before = _transition(actor, current, (S.CLAIMED,), S.FULFILLED, "只有已认领的微心愿可以确认圆梦（当前：{status}）。",
                            fulfilled_at=timezone.now(), fulfilled_by=actor, fulfilled_amount=spent,
                            fulfil_note=note, **cols)
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


def _not_past(deadline) -> None:
    if deadline < timezone.localdate():
        raise ActionError("完成时限不能早于今天。")


def _project_unit(actor, unit) -> None:
    if unit is None:
        raise ActionError("请选择责任单位。")
    _require(actor, unit, "您没有为该单位建立办实事项目的权限。")
    if not unit.is_active:
        raise ActionError(f"“{unit.name}”已撤销、合并或拆分，不能再建立办实事项目。")


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
    _project_unit(actor, unit)
    title, description = _project_fields(title, description, deadline)
    _not_past(deadline)
    p = PracticalProject.objects.create(unit=unit, title=title, description=description, deadline=deadline,
                                        created_by=actor)
    _plog(actor, "create_project", p, None)
    return p


@action
def edit_project(actor, project, *, unit=None, title: str | None = None, description: str | None = None,
                 deadline=None) -> PracticalProject:
    """Correct a project's unit, name, content or deadline (None keeps a field), checked as at
    creation. A later deadline once work has started is a postponement: that goes through
    延期 (``set_project_status``), so the list shows it as such and the log has its reason."""
    p = _lock_project(actor, project)
    unit = p.unit if unit is None else unit
    if unit.pk != p.unit_id:
        _project_unit(actor, unit)
    title, description = _project_fields(p.title if title is None else title,
                                         p.description if description is None else description,
                                         p.deadline if deadline is None else deadline)
    deadline = p.deadline if deadline is None else deadline
    if deadline != p.deadline:
        if p.status == P.COMPLETED:
            raise ActionError("已完成的项目不能修改完成时限。")
        _not_past(deadline)
        if deadline > p.deadline and p.status != P.PLANNED:
            raise ActionError(f"项目{p.get_status_display()}，推迟完成时限请在“更新状态”中选择“已延期”并说明原因。")
    if (unit.pk, title, description, deadline) == (p.unit_id, p.title, p.description, p.deadline):
        raise ActionError("没有修改任何内容。")
    before = snapshot(p)
    p.unit, p.title, p.description, p.deadline = unit, title, description, deadline
    p.save(update_fields=["unit", "title", "description", "deadline"])
    _plog(actor, "edit_project", p, before)
    return p


ALLOWED_STATUS = {P.PLANNED: {P.IN_PROGRESS, P.DELAYED}, P.IN_PROGRESS: {P.DELAYED, P.PLANNED},
                  P.DELAYED: {P.IN_PROGRESS, P.DELAYED}, P.COMPLETED: set()}


@action
def set_project_status(actor, project, *, status: str, deadline=None, reason: str = "") -> PracticalProject:
    """计划 / 推进中 / 已延期. 延期 needs a new deadline after both the old one and today, and
    may be repeated; its reason, when given, goes into the change log. 已完成 only through
    ``complete_project``, with its result; a completed project does not move back."""
    p = _lock_project(actor, project)
    if status == P.COMPLETED:
        raise ActionError("标记已完成请填写完成情况（“完成”操作）。")
    if status not in P.values:
        raise ActionError("请选择状态。")
    if status not in ALLOWED_STATUS[p.status]:
        raise ActionError(f"项目状态不能从“{p.get_status_display()}”改为“{P(status).label}”。")
    reason = clean_text(reason, "原因", required=False, limit=200)
    if status == P.DELAYED:
        if deadline is None:
            raise ActionError("延期请填写新的完成时限。")
        if deadline <= p.deadline:
            raise ActionError(f"新的完成时限须晚于原完成时限（{p.deadline:%Y-%m-%d}）。")
        if deadline <= timezone.localdate():
            raise ActionError("新的完成时限须晚于今天。")
    elif deadline is not None and deadline != p.deadline:
        # a deadline moved without 延期 would hide a postponement from the list and the log
        raise ActionError("只有延期时可以填写新的完成时限；更正完成时限请使用“编辑”。")
    before = snapshot(p)
    p.status = status
    if deadline is not None:
        p.deadline = deadline
    p.save(update_fields=["status", "deadline"])
    _plog(actor, "set_project_status", p, before, **({"reason": reason} if reason else {}))
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
