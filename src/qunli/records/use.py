"""Use (利用): requests registered at the desk or submitted online, approval by openness and
密级, online reading of page images watermarked on the server, certified copies (出具证明)
with a verification code, the 利用登记 register and its statistics.

Approval rule (``rule_for``): an item in ``Item.objects.public()`` (filed, 开放, not secret)
is approved the moment it is requested; a filed item that is controlled (控制使用) or not yet
opened waits for an archives leader — an account with a *leader* grant reaching the fonds's
unit (``is_archives_leader``); a 秘密/机密 item, an unfiled one or one not public offered to an
online request, is refused.

Who provides (``holder_of``): the unit that holds the item — its fonds' unit, or, once a
transfer was accepted, the archives named by its ``Custody`` row. A request belongs to one
holder (``UseRequest.holder``): the sender can no longer register use of, or certify, what it
handed over (its certificate says "本单位保存有下列档案"), and the archives can.

The reader never receives a file: ``render_page`` draws the page (Pillow; PDF pages through
pypdfium2) and the watermark (reader, time, 利用单号) onto a JPEG, and every page shown is a
``ReadingEvent`` plus an access-log row."""

import datetime as dt
import hashlib
import io
import math
import secrets
from collections import Counter
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import ExtractMonth
from django.utils import timezone

from qunli.core import crypto
from qunli.core.actions import ActionError, action, clean_text, require_change
from qunli.core.audit import log_access, log_change, snapshot
from qunli.core.identifiers import halfwidth
from qunli.core.notifications import Kind, notify, settle
from qunli.core.scoping import CHANGE, VIEW, can, grants_of

from .models import Certificate, Custody, Fonds, Item, ItemFile, Purpose, ReadingEvent, UseLine, UseRequest
from .public import SECRET_LEVELS

READING_DAYS = 30  # an approved line can be read online for this many days
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
MAX_LINES = 50
MAX_PAGES = 2000
RENDER_SCALE = 1.5
ANGLE = 30  # degrees of the tiled watermark
FONT_CANDIDATES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                   "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                   "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")


def new_code(length: int = 10) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def normalize_code(raw: str) -> str:
    return "".join(ch for ch in halfwidth(raw).upper() if ch.isascii() and ch.isalnum())[:20]


# --- who approves -------------------------------------------------------------------------

def is_archives_leader(user, where) -> bool:
    """A *leader* grant whose subtree holds ``where`` — a request's holder (a unit), or a
    fonds's unit — and whose lines include its line."""
    unit = where.unit if isinstance(where, Fonds) else where
    for g in grants_of(user):
        if g.role != "leader" or not unit.path.startswith(g.path):
            continue
        if g.all_lines or unit.line_id is None or unit.line_id in g.line_ids:
            return True
    return False


# --- who holds ---------------------------------------------------------------------------------

def custodies(items) -> dict[int, Custody]:
    """The ``Custody`` rows (with their unit) of these items, by item id: one query."""
    ids = [i.pk for i in items]
    return {c.item_id: c for c in Custody.objects.filter(item_id__in=ids).select_related("unit")} if ids else {}


def holder_of(item: Item, held: dict[int, Custody] | None = None):
    """The unit that holds ``item``: the archives that accepted it in a transfer, else its
    fonds' unit. ``held`` is ``custodies(...)`` of a batch already loaded (else one query)."""
    held = custodies([item]) if held is None else held
    custody = held.get(item.pk)
    return custody.unit if custody is not None else item.fonds.unit


def reachable_items(user, action: str = VIEW):
    """Items ``user`` may name for use: those of fonds in reach, and those held in custody by
    a unit in reach (an archives finds what it received; the fonds stays the sender's)."""
    held = Custody.objects.visible_to(user, action).values("item_id")
    return Item.objects.visible_to(user, action) | Item.objects.filter(pk__in=held)


def kept_item(user, pk, select_related=()) -> Item:
    """An item ``user`` may open — through its fonds, or as the archives holding it — or a 404;
    a PermissionDenied when the user may open it but not change it is left to the action."""
    from django.http import Http404

    item = reachable_items(user, VIEW).filter(pk=pk).select_related(*select_related).first()
    if item is None:
        raise Http404("对象不存在或不在您的数据范围内。")
    return item


def reachable_file(user, pk) -> ItemFile:
    """An item's file ``user`` may read: through the item's fonds, or held by its archives."""
    from django.http import Http404

    held = Custody.objects.visible_to(user, VIEW).values("item_id")
    f = (ItemFile.objects.visible_to(user, VIEW) | ItemFile.objects.filter(item_id__in=held)).filter(pk=pk).first()
    if f is None:
        raise Http404("对象不存在或不在您的数据范围内。")
    return f


def fonds_for_use(user, action: str = CHANGE):
    """Fonds whose items ``user`` may provide: those of units in reach, and those with items
    held in custody by a unit in reach."""
    held = Custody.objects.visible_to(user, action).values("item__fonds_id")
    return Fonds.objects.visible_to(user, action) | Fonds.objects.filter(pk__in=held)


def _holder_for(actor, fonds: Fonds, items: list[Item]):
    """The unit a new request is registered for: the items' holder when they share one the
    actor may act for; else the fonds' unit; else an archives holding items of the fonds.
    Items held elsewhere are then refused by name (``_add_lines``)."""
    held = custodies(items)
    holders = {u.pk: u for u in (holder_of(i, held) for i in items)}
    candidates = list(holders.values()) if len(holders) == 1 else []
    candidates.append(fonds.unit)
    from qunli.orgs.models import Unit

    candidates += list(Unit.objects.filter(pk__in=Custody.objects.filter(item__fonds=fonds).values("unit_id"))
                       .order_by("pk"))
    for unit in candidates:
        if can(actor, CHANGE, unit):
            return unit
    raise PermissionDenied("您没有为该全宗的档案办理利用的权限。")


def items_by_code(user, fonds: Fonds, codes: list[str]) -> list[Item]:
    """The items of ``fonds`` named by 档号 that ``user`` may see (or whose custodian is in
    reach), in the order given (each once); a code missing or out of reach is refused, alike,
    by name."""
    found = {i.archival_code: i for i in reachable_items(user).filter(fonds=fonds, archival_code__in=codes)
             .select_related("fonds__unit")}
    missing = [c for c in codes if c not in found]
    if missing:
        raise ActionError([f"档号“{c}”不存在或不在您的数据范围内。" for c in missing])
    return [found[c] for c in dict.fromkeys(codes)]


def _not_filed(item: Item) -> str:
    if item.status == Item.Status.DISPOSED:
        return f"{item}：已销毁，不能提供利用。"
    return f"{item}：状态为{item.get_status_display()}，不能提供利用。"


def rule_for(item: Item, *, online: bool) -> str:
    """The approval path of one item, or an ActionError saying why it cannot be provided."""
    if item.classification in SECRET_LEVELS:
        raise ActionError(f"{item}：涉密档案（{item.get_classification_display()}）不能通过本系统提供利用。")
    if item.status == Item.Status.DISPOSED:
        raise ActionError(_not_filed(item))
    if not item.is_filed:
        raise ActionError(f"{item}：尚未归档，不能提供利用。")
    if Item.objects.public().filter(pk=item.pk).exists():
        return UseLine.Rule.OPEN
    if online:
        raise ActionError("该档案未开放，不能在网上申请。")
    return UseLine.Rule.LEADER


def _not_held(item: Item, custody: Custody | None, req: UseRequest) -> str:
    if custody is not None and custody.unit_id != item.fonds.unit_id:
        return (f"档号“{item.archival_code}”的档案已于{timezone.localtime(custody.since):%Y-%m-%d}移交"
                f"“{custody.unit.name}”保管，本单位不能再提供利用或出具证明；请到{custody.unit.name}办理。")
    holder = custody.unit if custody is not None else item.fonds.unit
    return f"档号“{item.archival_code}”的档案由“{holder.name}”保管，不属于{req.holder.name}的馆藏。"


def _add_lines(actor, req: UseRequest, items, *, online: bool) -> list[UseLine]:
    lines, problems = [], []
    have = set(req.lines.values_list("item_id", flat=True))
    today = timezone.localdate()
    held = custodies(items)
    for item in items:
        if item.fonds_id != req.fonds_id:
            problems.append(f"{item}：不属于全宗{req.fonds.code}。")
            continue
        if holder_of(item, held).pk != req.holder_id:  # the custodian provides, nobody else
            problems.append(_not_held(item, held.get(item.pk), req))
            continue
        if item.pk in have:
            problems.append(f"{item}：已在本利用单中。")
            continue
        try:
            rule = rule_for(item, online=online)
        except ActionError as e:
            problems.extend(e.messages)
            continue
        line = UseLine(request=req, item=item, rule=rule)
        if rule == UseLine.Rule.OPEN:
            line.status, line.reason, line.decided_at = UseLine.Status.APPROVED, "开放档案，自动批准", timezone.now()
            line.expires_on = today + dt.timedelta(days=READING_DAYS)
        lines.append(line)
        have.add(item.pk)
    if problems:
        raise ActionError(problems)
    if len(have) > MAX_LINES:
        raise ActionError(f"一张利用单最多{MAX_LINES}件。")
    UseLine.objects.bulk_create(lines)
    return lines


def _seal_reader(req: UseRequest, phone: str) -> None:
    if phone:
        sealed = crypto.seal("phone", phone)
        req.reader_phone_enc, req.reader_phone_hash = sealed["phone_enc"], sealed["phone_hash"]
        req.reader_phone_mask = sealed["phone_mask"]


def _request(actor, *, fonds, holder, channel, reader_name, phone, organization, purpose,
             description) -> UseRequest:
    if purpose not in Purpose.values:
        raise ActionError("请选择利用目的。")
    req = UseRequest(code=new_code(), fonds=fonds, holder=holder, channel=channel,
                     reader_name=clean_text(reader_name, "利用者姓名", limit=50),
                     organization=clean_text(organization, "工作单位", required=False, limit=100),
                     purpose=purpose, description=clean_text(description, "需求说明", required=False, limit=500),
                     registered_by=actor)
    _seal_reader(req, phone)
    req.save()
    return req


def _log_request(actor, req: UseRequest, lines) -> None:
    after = snapshot(req, exclude=("reader_phone_enc", "reader_phone_hash"))
    after["lines"] = [{"item": ln.item_id, "rule": ln.rule, "status": ln.status} for ln in lines]
    log_change(actor, "records.register_use", req, None, after, unit_path=req.holder.path)
    _tell_leaders(actor, req, lines)


def archives_leaders(holder) -> list[int]:
    """The accounts ``is_archives_leader`` accepts for ``holder``: leader grants whose subtree
    holds it and whose lines include its line."""
    from django.db.models import Q

    from qunli.core.models import Grant

    step = type(holder).steplen
    paths = [holder.path[:i] for i in range(step, len(holder.path) + 1, step)]
    lines = Q(all_lines=True) | Q(lines=holder.line_id) if holder.line_id else Q()
    return sorted(set(Grant.objects.filter(lines, role="leader", unit__path__in=paths, user__is_active=True)
                      .values_list("user_id", flat=True)))


def _tell_leaders(actor, req: UseRequest, lines) -> None:
    """A controlled item waits for an archives leader: tell them (the title names the code and
    the count, not the reader)."""
    waiting = sum(1 for ln in lines if ln.status == UseLine.Status.PENDING)
    if waiting:
        notify(archives_leaders(req.holder), Kind.USE_PENDING, f"利用申请 {req.code} 有 {waiting} 件待审批",
               obj=req, url=req.get_absolute_url(), exclude=actor)


@action
def register_use(actor, *, fonds: Fonds, reader_name: str, purpose: str, phone: str = "", organization: str = "",
                 description: str = "", items=(), holder=None) -> UseRequest:
    """At the desk (窗口): staff with write reach on the holder — the fonds' unit, or the
    archives holding the items after a transfer — register the reader and the items."""
    items = list(items)
    holder = holder or _holder_for(actor, fonds, items)
    require_change(actor, holder)
    req = _request(actor, fonds=fonds, holder=holder, channel=UseRequest.Channel.DESK, reader_name=reader_name,
                   phone=phone, organization=organization, purpose=purpose, description=description)
    lines = _add_lines(actor, req, items, online=False)
    _log_request(actor, req, lines)
    return req


@action
def submit_online(actor, *, item_pk: int, reader_name: str, phone: str, purpose: str,
                  organization: str = "", description: str = "") -> UseRequest:
    """Online (portal): for one item of the public catalogue, as the portal's system account."""
    from qunli.casework.actions import PORTAL_ACCOUNT

    if actor.username != PORTAL_ACCOUNT:
        raise PermissionDenied("网上利用申请只能通过网上群团提交。")
    item = Item.objects.public().select_related("fonds__unit").filter(pk=item_pk).first()
    if item is None:
        raise ActionError("该档案不存在或未开放。")
    if not phone:
        raise ActionError("请填写手机号码。")
    req = _request(actor, fonds=item.fonds, holder=holder_of(item), channel=UseRequest.Channel.ONLINE,
                   reader_name=reader_name, phone=phone, organization=organization, purpose=purpose,
                   description=description)
    lines = _add_lines(actor, req, [item], online=True)
    _log_request(actor, req, lines)
    return req


@action
def add_items(actor, req: UseRequest, items) -> list[UseLine]:
    """Staff attach further items (e.g. found for an online request's description)."""
    require_change(actor, req)
    items = list(items)
    if not items:
        raise ActionError("请填写要调阅的档号。")
    lines = _add_lines(actor, req, items, online=False)
    log_change(actor, "records.add_use_items", req, None,
               {"lines": [{"item": ln.item_id, "rule": ln.rule, "status": ln.status} for ln in lines]},
               unit_path=req.holder.path)
    return lines


@action
def decide_line(actor, line: UseLine, *, approve: bool, reason: str = "") -> UseLine:
    """An archives leader approves or refuses a controlled item; refusing needs a reason."""
    line = UseLine.objects.select_for_update(of=("self",)).select_related("request__holder", "item").get(
        pk=line.pk)
    if not is_archives_leader(actor, line.request.holder):
        raise PermissionDenied("控制使用的档案须由档案部门领导审批。")
    if line.status != UseLine.Status.PENDING:
        raise ActionError("该条目已审批。")
    if line.item.classification in SECRET_LEVELS:
        raise ActionError("涉密档案不能通过本系统提供利用。")
    if approve and not line.item.is_filed:
        raise ActionError(_not_filed(line.item))
    reason = clean_text(reason, "审批意见" if approve else "不予提供的理由", required=not approve, limit=300)
    before = {"status": line.status}
    line.status = UseLine.Status.APPROVED if approve else UseLine.Status.REJECTED
    line.reason, line.decided_by, line.decided_at = reason or "同意提供利用", actor, timezone.now()
    line.expires_on = timezone.localdate() + dt.timedelta(days=READING_DAYS) if approve else None
    line.save(update_fields=["status", "reason", "decided_by", "decided_at", "expires_on"])
    log_change(actor, "records.decide_use", line, before,
               {"status": line.status, "reason": line.reason, "item": line.item_id},
               unit_path=line.request.holder.path)
    if not line.request.lines.filter(status=UseLine.Status.PENDING).exists():
        settle(Kind.USE_PENDING, line.request)  # every line decided: the other leaders' notices too
    return line


def waiting(qs):
    """The requests of ``qs`` with a line waiting for an archives leader (the leader's queue)."""
    from django.db.models import Exists, OuterRef

    return qs.filter(Exists(UseLine.objects.filter(request=OuterRef("pk"), status=UseLine.Status.PENDING)))


def find_request(code: str, last4: str) -> UseRequest | None:
    """The reader's request for 利用单号 + the phone's last four digits, or None (same answer
    for a wrong code and a wrong number)."""
    code = normalize_code(code)
    req = UseRequest.objects.filter(code=code).select_related("fonds__unit").first()
    if req is None or not req.reader_phone_mask or not req.reader_phone_enc:
        return None
    last4 = halfwidth(last4).strip()  # full-width digits from a phone's input method too
    if not (last4.isascii() and last4.isdecimal()) or len(last4) != 4:
        return None
    if not secrets.compare_digest(crypto.decrypt(req.reader_phone_enc)[-4:], last4):
        return None
    return req


def readable(line: UseLine, on: dt.date | None = None) -> bool:
    on = on or timezone.localdate()
    return (line.status == UseLine.Status.APPROVED and line.expires_on is not None and line.expires_on >= on
            and line.item.classification not in SECRET_LEVELS and line.item.is_filed)


# --- rendering -------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _font(size: int):
    from PIL import ImageFont

    path = getattr(settings, "QUNLI_WATERMARK_FONT", "")
    for candidate in ([path] if path else []) + list(FONT_CANDIDATES):
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _file_pages(f) -> int:
    return _pages_of(f.storage_name, f.mime)


@lru_cache(maxsize=1024)
def _pages_of(storage_name: str, mime: str) -> int:
    """Pages of a stored file; cached by its content address (files never change in place)."""
    if not (mime == "application/pdf" or mime.startswith("image/")):
        return 0  # OFD, DOCX: not rendered online
    with default_storage.open(storage_name) as fh:
        data = fh.read()
    try:
        if mime == "application/pdf":
            import pypdfium2 as pdfium

            return len(pdfium.PdfDocument(data))
        from PIL import Image

        return getattr(Image.open(io.BytesIO(data)), "n_frames", 1)
    except Exception:  # a damaged file (四性检测 reports it) has no readable pages here
        return 0


def page_map(item: Item) -> list[tuple]:
    """(file, page index in that file) for every readable page of the item, in order."""
    out = []
    for f in item.files.order_by("id"):
        if not default_storage.exists(f.storage_name):
            continue
        out.extend((f, i) for i in range(_file_pages(f)))
        if len(out) >= MAX_PAGES:
            break
    return out[:MAX_PAGES]


def _page_image(f, index: int):
    from PIL import Image

    with default_storage.open(f.storage_name) as fh:
        data = fh.read()
    if f.mime == "application/pdf":
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(data)
        return doc[index].render(scale=RENDER_SCALE).to_pil().convert("RGB")
    img = Image.open(io.BytesIO(data))
    img.seek(index)
    return img.convert("RGB")


def watermark_text(req: UseRequest, at: dt.datetime) -> str:
    return f"{req.reader_name} {timezone.localtime(at):%Y-%m-%d %H:%M} 利用单{req.code} 仅供阅览"


def draw_watermark(img, text: str):
    """Tile ``text`` diagonally over the page, dark enough to see, light enough to read
    through, plus a solid footer band with the same text. The overlay is drawn once per
    (page size, text) — the text names the minute, so a reader's pages share it."""
    from PIL import Image

    return Image.alpha_composite(img.convert("RGBA"), _overlay(img.size, text)).convert("RGB")


@lru_cache(maxsize=16)
def _overlay(page_size: tuple[int, int], text: str):
    """The watermark layer: the text drawn and rotated once, then composited in a staggered
    grid in the text's own axes, and a footer band."""
    from PIL import Image, ImageDraw

    w, h = page_size
    size = max(14, min(w, h) // 28)
    font = _font(size)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    box = probe.textbbox((0, 0), text, font=font)
    tw, th = box[2] - box[0], box[3] - box[1]
    stamp = Image.new("RGBA", (tw + 4, th + size // 2 + 4), (0, 0, 0, 0))
    ImageDraw.Draw(stamp).text((2 - box[0], 2 - box[1]), text, font=font, fill=(160, 20, 20, 70))
    stamp = stamp.rotate(ANGLE, resample=Image.BICUBIC, expand=True)
    sw, sh = stamp.size
    # stamp centres on a grid in the text's own (rotated) axes: along the text every
    # tw + 2·size, across it every 5·th, every other line shifted by half a step
    along, across = tw + size * 2, th * 5
    cos, sin = math.cos(math.radians(ANGLE)), math.sin(math.radians(ANGLE))
    overlay = Image.new("RGBA", (w + 2 * sw, h + 2 * sh), (0, 0, 0, 0))
    reach = int(math.hypot(w, h)) + max(sw, sh)
    cx, cy = w / 2 + sw, h / 2 + sh
    for j in range(-(reach // across) - 1, reach // across + 2):
        offset = (j % 2) * along / 2
        for i in range(-(reach // along) - 1, reach // along + 2):
            u, v = i * along + offset, j * across
            x, y = cx + u * cos + v * sin, cy - u * sin + v * cos
            left, top = int(x - sw / 2), int(y - sh / 2)
            if 0 <= left <= overlay.width - sw and 0 <= top <= overlay.height - sh:
                overlay.alpha_composite(stamp, (left, top))
    margin_x, margin_y = sw, sh
    overlay = overlay.crop((margin_x, margin_y, margin_x + w, margin_y + h))
    draw = ImageDraw.Draw(overlay)
    band = th + size
    draw.rectangle((0, h - band, w, h), fill=(255, 255, 255, 220))
    draw.text((size // 2, h - band + size // 4), text, font=font, fill=(160, 20, 20, 255))
    return overlay


def render_page(line: UseLine, page: int, *, actor, reader_name: str, ip: str = "") -> bytes:
    """The watermarked JPEG of page ``page`` (1-based) of an approved line; the reading event
    and the access-log row are written before the image leaves. Refused (ActionError) when the
    line is not readable or the page does not exist or cannot be drawn."""
    if not readable(line):
        raise ActionError("该条目未获批准或阅览期限已过。")
    pages = page_map(line.item)
    if not 1 <= page <= len(pages):
        raise ActionError("页码不存在。")
    now = timezone.now()
    text = watermark_text(line.request, now)
    f, index = pages[page - 1]
    try:
        img = draw_watermark(_page_image(f, index), text)
    except Exception as e:
        raise ActionError("该页无法显示，请到档案馆窗口查阅。") from e
    # recorded once the page exists and before it leaves the server
    with transaction.atomic():
        ReadingEvent.objects.create(line=line, page=page, reader_name=reader_name[:50], watermark=text[:200],
                                    ip_hash=crypto.blind_index(ip)[:32] if ip else "", at=now)
        log_access(actor, line.item, ["reading"],
                   purpose=f"在线阅览 利用单{line.request.code} 第{page}页 {reader_name}")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


# --- certificates (出具证明) -------------------------------------------------------------------

def _certificate_pdf(cert: Certificate, line: UseLine) -> bytes:
    import weasyprint
    from django.template.loader import render_to_string

    html = render_to_string("records/certificate.html", {"cert": cert, "line": line, "req": line.request,
                                                         "item": line.item})
    return weasyprint.HTML(string=html).write_pdf()


@action
def issue_certificate(actor, line: UseLine) -> Certificate:
    """A 档案利用证明 for an approved line: PDF stored once, SHA-256 kept, code to verify."""
    line = UseLine.objects.select_related("request__holder", "request__fonds", "item__fonds__unit").get(pk=line.pk)
    require_change(actor, line.request)
    if line.status != UseLine.Status.APPROVED:
        raise ActionError("只能为已批准利用的档案出具证明。")
    if not line.item.is_filed:
        raise ActionError(_not_filed(line.item))
    held = custodies([line.item])
    if holder_of(line.item, held).pk != line.request.holder_id:  # handed over since the request was approved
        raise ActionError(_not_held(line.item, held.get(line.item_id), line.request))
    name = line.request.reader_name
    cert = Certificate(code=new_code(12), line=line, archival_code=line.item.archival_code or "",
                       reader_mask=(name[:1] + "*" * max(1, len(name) - 1))[:20],
                       unit_name=line.request.holder.name[:100], issued_by=actor, issued_at=timezone.now())
    pdf = _certificate_pdf(cert, line)
    cert.sha256 = hashlib.sha256(pdf).hexdigest()
    cert.storage_name = f"certificates/{cert.sha256[:2]}/{cert.sha256}.pdf"
    if not default_storage.exists(cert.storage_name):
        default_storage.save(cert.storage_name, ContentFile(pdf))
    cert.save()
    log_change(actor, "records.issue_certificate", cert, None, snapshot(cert), unit_path=line.request.holder.path)
    return cert


def certificate_response(cert: Certificate):
    """The stored PDF as a download (the page and the API alike); 404 when storage lost it."""
    from django.http import FileResponse, Http404

    if not default_storage.exists(cert.storage_name):
        raise Http404("证明文件在存储中缺失。")
    return FileResponse(default_storage.open(cert.storage_name), as_attachment=True,
                        filename=f"档案利用证明-{cert.code}.pdf", content_type="application/pdf")


def verify_certificate(code: str) -> Certificate | None:
    return Certificate.objects.filter(code=normalize_code(code)).first()


# --- the register's statistics ------------------------------------------------------------------

def _requests(year: int, user=None):
    qs = UseRequest.objects.visible_to(user) if user is not None else UseRequest.objects.all()
    return qs.filter(created_at__year=year)


def figures_by_holder(keys, year: int, user=None) -> dict[tuple[int, int], dict[str, int]]:
    """人次 and 件次 of a year per (保管单位, 全宗), for 馆藏统计: the archives counts the use
    it provided of a fonds it received, the fonds' unit the use it provided itself."""
    out = {tuple(k): {"persons": 0, "items": 0} for k in keys}
    reqs = _requests(year, user).filter(fonds_id__in={f for _, f in out})
    # one query: a request is one 人次 (distinct, the join repeats it per line), its approved lines 件次
    for holder, fonds, persons, items in reqs.values_list("holder_id", "fonds_id").annotate(
            persons=Count("id", distinct=True),
            items=Count("lines", filter=Q(lines__status=UseLine.Status.APPROVED))).order_by():
        if (holder, fonds) in out:
            out[(holder, fonds)] = {"persons": persons, "items": items}
    return out


def access_figures(year: int, user=None) -> dict:
    """Use figures of a year for the holdings statistics: 人次 (requests), 件次 (approved
    items), readings (pages shown) and certificates, by purpose and by month (1–12).
    ``user`` scopes them to that account's reach; without it, everything (reports run by
    the system)."""
    reqs = _requests(year, user)
    lines = UseLine.objects.filter(request__in=reqs.values("pk"), status=UseLine.Status.APPROVED)
    labels = dict(Purpose.choices)
    by_purpose = {label: {"persons": 0, "items": 0} for label in labels.values()}
    for row in reqs.values("purpose").annotate(n=Count("id")):
        by_purpose[labels.get(row["purpose"], row["purpose"])]["persons"] = row["n"]
    for row in lines.values("request__purpose").annotate(n=Count("id")):
        by_purpose[labels.get(row["request__purpose"], row["request__purpose"])]["items"] = row["n"]
    months = {m: {"persons": 0, "items": 0} for m in range(1, 13)}
    for row in reqs.annotate(m=ExtractMonth("created_at")).values("m").annotate(n=Count("id")):
        months[row["m"]]["persons"] = row["n"]
    for row in lines.annotate(m=ExtractMonth("request__created_at")).values("m").annotate(n=Count("id")):
        months[row["m"]]["items"] = row["n"]
    channels = Counter(dict(reqs.values_list("channel").annotate(n=Count("id"))))
    return {
        "year": year,
        "persons": sum(v["persons"] for v in by_purpose.values()),
        "items": sum(v["items"] for v in by_purpose.values()),
        "readings": ReadingEvent.objects.filter(line__in=lines.values("pk")).count(),
        "certificates": Certificate.objects.filter(line__request__in=reqs.values("pk")).count(),
        "by_channel": {label: channels.get(v, 0) for v, label in UseRequest.Channel.choices},
        "by_purpose": by_purpose,
        "by_month": months,
    }
