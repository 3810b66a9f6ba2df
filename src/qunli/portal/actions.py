"""The portal's verbs: submit a request (through casework's own intake), track it by code and
the phone's last four digits, and the staff verbs for notices.

The public actor: citizens have no account, so a submission is recorded as made by one
system account, ``casework.actions.PORTAL_ACCOUNT`` — a business account with no grant and an
unusable password, so nobody can sign in as it and it reaches no data; it only appears as
the author of 网上 requests in the change log. ``portal_account()`` creates it idempotently
(on the first submission; concurrent first submissions race safely on the unique username)."""

import hmac
import re

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import Length, Substr
from django.utils import timezone

from qunli.casework import actions as casework
from qunli.casework import attachments
from qunli.casework.models import Case, CaseEvent, Referral, Request
from qunli.core.actions import ActionError, action
from qunli.core.audit import log_change, snapshot
from qunli.core.identifiers import halfwidth
from qunli.core.models import User
from qunli.core.scoping import CHANGE, can
from qunli.orgs.models import Level, Unit, UnitKind, UnitStatus

from .models import Notice

DESCRIPTION_MAX = 2000
CODE_RE = re.compile(r"^[0-9A-Z]{10}$")


def portal_account() -> User:
    """The system account public submissions are made as (created once, idempotently)."""
    user = User.objects.filter(username=casework.PORTAL_ACCOUNT).first()
    if user is None:
        try:
            with transaction.atomic():
                user = User(username=casework.PORTAL_ACCOUNT, display_name="网上群团（系统账户）",
                            kind=User.Kind.BUSINESS, must_change_password=False)
                user.set_unusable_password()
                user.save()
        except IntegrityError:
            user = User.objects.get(username=casework.PORTAL_ACCOUNT)
    elif user.has_usable_password():  # someone gave it a password: take it away again
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


NOT_FOR_REQUESTS = ("archives",)  # lines that serve no one's request for help (档案馆, 档案室)
# Nodes that are an employer (a company, a government organ, a school): the 工会, 妇委会 or
# 团支部 beneath one is the employer's own body. A worker's wage complaint must not go to the
# union of the company it is about, so the public list leaves them out; 乡镇/街道 and county
# line units, area-wide bodies (园区联合工会) and service units (关爱工作站) stay.
EMPLOYER_KINDS = (UnitKind.ENTERPRISE, UnitKind.ORGAN, UnitKind.SCHOOL)
UNSURE_LABEL = "不清楚，由县委群团办分派"


def intake_units():
    """Units a citizen may address: active line units at county and township level, of the
    lines that take requests, that are not an employer's own body (``EMPLOYER_KINDS``).
    The county's party-office unit (its line ``is_party_office``) is among them: it is the
    "不清楚" choice, from where 群团办 assigns or refers the request."""
    steplen = Unit.steplen
    employer_parent = Unit.objects.filter(
        line__isnull=True, kind__in=EMPLOYER_KINDS,
        path=Substr(OuterRef("path"), 1, Length(OuterRef("path")) - steplen))
    return (Unit.objects.filter(status=UnitStatus.ACTIVE, line__isnull=False, line__is_active=True,
                                level__in=[Level.COUNTY, Level.TOWNSHIP])
            .exclude(line__code__in=NOT_FOR_REQUESTS).exclude(kind__in=[UnitKind.ENTERPRISE, UnitKind.SCHOOL])
            .exclude(Exists(employer_parent)).select_related("line").order_by("path"))


def intake_unit_groups() -> list[tuple[str, list[tuple[int, str, int | None]]]]:
    """The intake units grouped by their county, in tree order: [(county name, [(pk, unit
    name, line id), ...]), ...] — two queries, values only (the submit form lists every one).
    Each county's party-office unit comes first as "不清楚，由县委群团办分派", with no line
    (the type's narrowing never hides it): a citizen who does not know which 群团 handles
    their matter should not have to guess among a hundred names."""
    counties = dict(Unit.objects.filter(level=Level.COUNTY, line__isnull=True).values_list("path", "name"))
    depths = sorted({len(p) for p in counties}, reverse=True)
    groups: dict[str, list[tuple[int, str, int | None]]] = {}
    for pk, name, path, line, level, party in intake_units().values_list(
            "pk", "name", "path", "line_id", "level", "line__is_party_office"):
        county = next((counties[path[:d]] for d in depths if path[:d] in counties), "")
        options = groups.setdefault(county, [])
        if party and level == Level.COUNTY:
            options.insert(0, (pk, UNSURE_LABEL, None))
        else:
            options.append((pk, name, line))
    return list(groups.items())


def submit_request(*, unit, type, name: str, phone: str, description: str, files=()) -> Case:
    """Record a citizen's request as received through the portal (channel 网上), with its
    attachments (``casework.attachments``), all or nothing: a failed submission leaves no
    request, no attachment row and no stored file."""
    if len((description or "").strip()) > DESCRIPTION_MAX:
        raise ActionError(f"诉求内容不能超过{DESCRIPTION_MAX}字。")
    if not intake_units().filter(pk=getattr(unit, "pk", None)).exists():
        raise ActionError("请选择受理单位。")
    attachments.check_attachments(files)  # before anything is written or stored
    actor, written = portal_account(), []
    try:
        with transaction.atomic():
            case = casework.receive_public_request(actor, unit=unit, type=type, requester_name=name,
                                                   requester_phone=phone, description=description)
            attachments.attach_public_files(actor, case, files, written=written)
    except BaseException:
        attachments.discard(written)  # the rows were rolled back; the bytes are not in the database's hands
        raise
    return case


# --- tracking ---------------------------------------------------------------------------------

PUBLIC_STATUS = {
    Case.Status.RECEIVED: "已收到，正在安排工作人员",
    Case.Status.ASSIGNED: "已安排工作人员办理",
    Case.Status.ASSESSED: "工作人员正在了解情况",
    Case.Status.PLANNED: "已制定帮扶方案",
    Case.Status.IN_SERVICE: "正在为您提供服务",
    Case.Status.FOLLOW_UP: "服务已完成，正在回访",
    Case.Status.CLOSED: "已办结",
}
DISMISSED_STATUS = "不予受理"  # a closed case whose last ending was 不予受理 (casework.actions.dismiss)


def normalize_code(code: str) -> str:
    return re.sub(r"[\s-]", "", halfwidth(code)).upper()


def track(code: str, last4: str) -> dict | None:
    """What the requester may see about their request: status in plain words, dates, the
    handling unit, and the result once closed. None when the code does not exist or the last
    four digits do not match (the same answer, so a guess learns nothing). Never notes, staff
    names, the description or the timeline."""
    code, last4 = normalize_code(code), halfwidth(last4).strip()  # a phone's full-width digits too
    if not CODE_RE.match(code) or not re.fullmatch(r"[0-9]{4}", last4):
        return None
    req = Request.objects.filter(tracking_code=code).select_related("type", "case", "case__unit").first()
    # compare against the stored mask's last four (138****1234): no decryption needed
    expected = (req.requester_phone_mask[-4:] if req and req.requester_phone_mask else "") or "----"
    if req is None or not hmac.compare_digest(expected, last4):
        return None
    case = getattr(req, "case", None)
    if case is None:
        return None
    pending = Referral.objects.filter(case=case, status=Referral.Status.PENDING).exists()
    closed = case.status == Case.Status.CLOSED
    # 不予受理 ends a case as 结案 does, but the citizen must not read it as "handled": the step
    # that last ended it decides (a reopened case may have both)
    dismissed = closed and CaseEvent.objects.filter(case=case, step__in=["close", "dismiss"]) \
        .order_by("-at", "-id").values_list("step", flat=True).first() == "dismiss"
    if dismissed:
        status = DISMISSED_STATUS
    elif pending and not closed:
        status = "正在转交其他单位办理"
    else:
        status = PUBLIC_STATUS.get(case.status, "办理中")
    return {
        "code": req.tracking_code,
        "type": req.type.name,
        "unit": case.unit.name,
        "status": status,
        "closed": closed,
        "dismissed": dismissed,
        "received_at": req.received_at,
        "acknowledged_at": case.acknowledged_at,
        "resolve_due": case.resolve_due,
        "closed_at": case.closed_at if closed else None,
        "outcome": case.outcome if closed else "",  # a dismissal's reads "不予受理：<reason>"
        # the requester's own file names (they chose them); never the files
        "attachments": [a.reveal_name() for a in req.attachments.all()],
    }


# --- notices (staff) ------------------------------------------------------------------------------

def _notice_fields(title: str, body: str) -> tuple[str, str]:
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise ActionError("请填写标题。")
    if len(title) > 100:
        raise ActionError("标题不能超过100字。")
    if not body:
        raise ActionError("请填写正文。")
    if len(body) > 5000:
        raise ActionError("正文不能超过5000字。")
    return title, body


@action
def create_notice(actor, *, unit, title: str, body: str) -> Notice:
    if not actor.is_business or unit is None or not can(actor, CHANGE, unit):
        raise PermissionDenied("您没有以该单位名义发布通知的权限。")
    title, body = _notice_fields(title, body)
    notice = Notice.objects.create(unit=unit, title=title, body=body, created_by=actor)
    log_change(actor, "portal.create_notice", notice, None, snapshot(notice), unit_path=unit.path)
    return notice


def _lock(actor, notice: Notice) -> Notice:
    notice = Notice.objects.select_for_update().select_related("unit").get(pk=notice.pk)
    if not can(actor, CHANGE, notice):
        raise PermissionDenied("您没有修改该通知的权限。")
    return notice


@action
def update_notice(actor, notice: Notice, *, title: str, body: str) -> Notice:
    notice = _lock(actor, notice)
    before = snapshot(notice)
    notice.title, notice.body = _notice_fields(title, body)
    notice.updated_at = timezone.now()
    notice.save()
    log_change(actor, "portal.update_notice", notice, before, snapshot(notice), unit_path=notice.unit.path)
    return notice


@action
def publish_notice(actor, notice: Notice, *, publish: bool = True) -> Notice:
    """发布 (shown on the portal from now on) or 撤回 (hidden again)."""
    notice = _lock(actor, notice)
    before = snapshot(notice)
    notice.is_published = bool(publish)
    notice.published_at = timezone.now() if publish else None
    notice.save()
    log_change(actor, "portal.publish_notice" if publish else "portal.unpublish_notice", notice, before,
               snapshot(notice), unit_path=notice.unit.path)
    return notice


def published_notices():
    return Notice.objects.filter(is_published=True).select_related("unit").order_by("-published_at", "-id")
