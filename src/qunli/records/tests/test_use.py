"""Use (利用): desk and online requests, approval by openness and 密级 (open items at once,
controlled ones by an archives leader only, secret ones never), online reading of page
images with the watermark drawn on the server (never the raw file), a ReadingEvent and an
access-log row per page, certificates verifiable on the portal, the 利用登记 register and
its statistics (``access_figures``)."""

import datetime as dt
import hashlib
import io
import re

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from PIL import Image, ImageChops

from conftest import grant, make_user
from qunli.core.actions import ActionError
from qunli.core.models import AccessLog, ChangeLog
from qunli.portal import actions as portal_actions
from qunli.records import use
from qunli.records.models import Certificate, ReadingEvent, UseLine, UseRequest

pytestmark = pytest.mark.django_db

PHONE = "13912345678"
GENEROUS = {k: (100_000, 3600) for k in ("catalogue_export_ip", "use_ip", "use_phone", "reading_ip", "reading_code",
                                         "page_ip", "verify_ip")}


def page_png(text_color=(0, 0, 0)) -> bytes:
    img = Image.new("RGB", (600, 800), "white")
    from PIL import ImageDraw

    ImageDraw.Draw(img).rectangle((50, 50, 550, 120), fill=text_color)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def two_page_pdf() -> bytes:
    pages = [Image.new("RGB", (595, 842), c) for c in ("white", "lightyellow")]
    buf = io.BytesIO()
    pages[0].save(buf, "PDF", save_all=True, append_images=pages[1:])
    return buf.getvalue()


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path)}}}
    settings.QUNLI_PORTAL_RATE_LIMITS = GENEROUS


@pytest.fixture
def archives_leader(tree, lines):
    """The county archives leader: a *leader* grant over the county, all lines."""
    u = make_user("danganjuzhang")
    grant(u, "leader", tree["county"], all_lines=True)
    return u


@pytest.fixture
def scanned(capture, accounts, django_capture_on_commit_callbacks):
    """A filed open item with a 2-page PDF and a controlled one with a PNG scan."""
    from qunli.records import actions
    from qunli.records.models import Item

    with django_capture_on_commit_callbacks(execute=True):
        open_item = capture(title="关于1985年婚姻登记工作的通知", openness="open", date=dt.date(1985, 3, 1),
                            files=[("scan.pdf", two_page_pdf())])
        controlled = capture(title="知青返城安置名单", openness="controlled", date=dt.date(1980, 1, 1),
                             files=[("scan.png", page_png())])
        secret = capture(title="测绘坐标成果", openness="controlled", classification="secret", date=dt.date(1970, 1, 1))
        actions.file_items(accounts["women_staff"], [open_item.pk, controlled.pk, secret.pk])
    return {k: Item.objects.select_related("fonds__unit").get(pk=v.pk) for k, v in
            {"open": open_item, "controlled": controlled, "secret": secret}.items()}


def desk(accounts, fonds, *items, **kw):
    data = dict(fonds=fonds, reader_name="李建国", purpose="marriage", phone=PHONE, items=items)
    data.update(kw)
    return use.register_use(accounts["women_staff"], **data)


# --- approval ---------------------------------------------------------------------------------------

def test_open_items_are_approved_at_once_controlled_ones_wait(accounts, fonds, scanned):
    req = desk(accounts, fonds, scanned["open"], scanned["controlled"])
    lines = {ln.item_id: ln for ln in req.lines.all()}
    assert lines[scanned["open"].pk].status == "approved" and lines[scanned["open"].pk].rule == "open"
    assert lines[scanned["controlled"].pk].status == "pending" and lines[scanned["controlled"].pk].rule == "leader"
    assert req.reader_phone_mask == "139****5678" and PHONE not in req.reader_phone_enc
    log = ChangeLog.objects.get(action="records.register_use")
    assert PHONE not in str(log.after) and len(log.after["lines"]) == 2


def test_secret_and_unfiled_items_are_refused_and_nothing_is_written(accounts, fonds, scanned, capture):
    with pytest.raises(ActionError, match="涉密"):
        desk(accounts, fonds, scanned["open"], scanned["secret"])
    with pytest.raises(ActionError, match="尚未归档"):
        desk(accounts, fonds, capture(title="未归档"))
    assert not UseRequest.objects.exists() and not UseLine.objects.exists()


def test_a_destroyed_item_is_never_provided(accounts, fonds, scanned, archives_leader):
    from qunli.records.models import Item

    Item.objects.filter(pk=scanned["controlled"].pk).update(status="disposed")
    with pytest.raises(ActionError, match="已销毁，不能提供利用"):
        desk(accounts, fonds, Item.objects.get(pk=scanned["controlled"].pk))
    Item.objects.filter(pk=scanned["controlled"].pk).update(status="filed")
    pending = desk(accounts, fonds, scanned["controlled"]).lines.get()
    approved = desk(accounts, fonds, scanned["open"]).lines.get()
    Item.objects.filter(pk__in=[scanned["controlled"].pk, scanned["open"].pk]).update(status="disposed")
    with pytest.raises(ActionError, match="已销毁"):
        use.decide_line(archives_leader, pending, approve=True)
    pending.refresh_from_db()
    assert pending.status == "pending"
    with pytest.raises(ActionError, match="已销毁"):
        use.issue_certificate(accounts["women_staff"], approved)
    assert not Certificate.objects.exists()


def test_only_an_archives_leader_approves_controlled_items(accounts, fonds, scanned, archives_leader, tree):
    req = desk(accounts, fonds, scanned["controlled"])
    line = req.lines.get()
    for who in ("women_staff", "party_office", "clerk", "union_staff"):
        with pytest.raises(PermissionDenied):
            use.decide_line(accounts[who], line, approve=True)
    neighbour = make_user("linxian_lingdao")
    grant(neighbour, "leader", tree["other_county"], all_lines=True)
    with pytest.raises(PermissionDenied):  # a leader elsewhere
        use.decide_line(neighbour, line, approve=True)
    town_leader = make_user("zhen_lingdao")
    grant(town_leader, "leader", tree["town"], all_lines=True)
    with pytest.raises(PermissionDenied):  # a leader below the fonds's unit
        use.decide_line(town_leader, line, approve=True)
    with pytest.raises(ActionError, match="请填写不予提供的理由"):  # the field's name on the page
        use.decide_line(archives_leader, line, approve=False)
    use.decide_line(archives_leader, line, approve=True)
    line.refresh_from_db()
    assert line.status == "approved" and line.decided_by == archives_leader
    assert line.expires_on == dt.date.today() + dt.timedelta(days=use.READING_DAYS)
    assert ChangeLog.objects.filter(action="records.decide_use", actor=archives_leader).count() == 1
    with pytest.raises(ActionError, match="已审批"):
        use.decide_line(archives_leader, line, approve=False, reason="改变主意")


def test_online_request_for_an_open_item_is_approved_and_only_as_the_portal(accounts, scanned):
    with pytest.raises(PermissionDenied):
        use.submit_online(accounts["women_staff"], item_pk=scanned["open"].pk, reader_name="王", phone=PHONE,
                          purpose="social_security")
    req = use.submit_online(portal_actions.portal_account(), item_pk=scanned["open"].pk, reader_name="王芳",
                            phone=PHONE, purpose="social_security", description="另需1985年本人婚姻登记档案")
    assert req.channel == "online" and req.lines.get().status == "approved"


# --- reading -------------------------------------------------------------------------------------------

def portal_request(client, item, **over):
    data = {"name": "王芳", "phone": PHONE, "organization": "", "purpose": "marriage",
            "description": "另需1985年本人婚姻登记档案", "consent": "on", "website": ""}
    data.update(over)
    return client.post(reverse("portal:use_request", args=[item.pk]), data)


def test_portal_request_shows_the_code_once_and_opens_the_reading_room(scanned):
    c = Client()
    r = portal_request(c, scanned["open"])
    assert r.status_code == 302
    page = c.get(r["Location"]).content.decode()
    code = re.search(r'id="use-code">([A-Z0-9]+)<', page).group(1)
    assert UseRequest.objects.get().code == code
    assert code not in c.get(reverse("portal:use_submitted")).content.decode()
    other = Client()
    assert other.post(reverse("portal:reading_room"), {"code": code, "last4": "0000"}).status_code == 200
    line = UseLine.objects.get()
    assert other.get(reverse("portal:read_line", args=[line.pk])).status_code == 404
    r = other.post(reverse("portal:reading_room"), {"code": code.lower(), "last4": "5678"})
    assert r.status_code == 302
    # typed in a phone input method's full-width mode: the same request (was a 500 for the digits)
    full_width = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ")
    r = Client().post(reverse("portal:reading_room"), {"code": code.translate(full_width), "last4": "５６７８"})
    assert r.status_code == 302
    room = other.get(reverse("portal:reading_room")).content.decode()
    assert scanned["open"].title in room


def test_reading_renders_watermarked_pages_never_the_file(scanned, accounts, fonds):
    c = Client()
    portal_request(c, scanned["open"])
    line = UseLine.objects.get()
    page = c.get(reverse("portal:read_line", args=[line.pk])).content.decode()
    assert "共 2 页" in page and "/records/files/" not in page
    raw = default_storage.open(line.item.files.get().storage_name).read()
    img = c.get(reverse("portal:read_page", args=[line.pk, 1]))
    assert img.status_code == 200 and img["Content-Type"] == "image/jpeg"
    assert "no-cache" in img["Cache-Control"] or "no-store" in img["Cache-Control"]
    assert img.content != raw and raw not in img.content
    shown = Image.open(io.BytesIO(img.content)).convert("RGB")
    plain = use._page_image(line.item.files.get(), 0).resize(shown.size)
    diff = ImageChops.difference(shown, plain).convert("L").point(lambda v: 255 if v > 40 else 0)
    assert diff.getbbox() is not None
    marked = diff.histogram()[255]
    assert marked > shown.size[0] * shown.size[1] * 0.01  # the watermark covers the page, not a dot
    ev = ReadingEvent.objects.get()
    assert ev.page == 1 and ev.reader_name == "王芳" and "王芳" in ev.watermark and line.request.code in ev.watermark
    access = AccessLog.objects.filter(object_type="records.item", object_id=str(line.item_id))
    assert access.count() == 1 and "王芳" in access.get().purpose
    assert c.get(reverse("portal:read_page", args=[line.pk, 3])).status_code == 404  # no page 3
    assert ReadingEvent.objects.count() == 1


def test_watermark_text_names_reader_and_time():
    from PIL import Image as I

    blank = I.new("RGB", (400, 300), "white")
    out = use.draw_watermark(blank, "李建国 2026-12-06 20:30 利用单ABC 仅供阅览")
    assert out.size == blank.size and ImageChops.difference(out, blank).getbbox() is not None


def test_pending_rejected_or_expired_lines_are_not_readable(accounts, fonds, scanned, archives_leader):
    req = desk(accounts, fonds, scanned["open"], scanned["controlled"])
    c = Client()
    c.post(reverse("portal:reading_room"), {"code": req.code, "last4": "5678"})
    pending = req.lines.get(item=scanned["controlled"])
    assert c.get(reverse("portal:read_line", args=[pending.pk])).status_code == 404
    assert c.get(reverse("portal:read_page", args=[pending.pk, 1])).status_code == 404
    use.decide_line(archives_leader, pending, approve=True)
    assert c.get(reverse("portal:read_page", args=[pending.pk, 1])).status_code == 200
    UseLine.objects.filter(pk=pending.pk).update(expires_on=dt.date.today() - dt.timedelta(days=1))
    assert c.get(reverse("portal:read_page", args=[pending.pk, 1])).status_code == 404
    # another reader's session cannot open this request's lines
    other = desk(accounts, fonds, scanned["open"], reader_name="赵六", phone="13800001111")
    assert c.get(reverse("portal:read_line", args=[other.lines.get().pk])).status_code == 404


def test_honeypot_and_rate_limits_on_the_request_form(scanned, settings):
    c = Client()
    assert portal_request(c, scanned["open"], website="http://spam").status_code == 400
    assert not UseRequest.objects.exists()
    settings.QUNLI_PORTAL_RATE_LIMITS = {**GENEROUS, "use_ip": (2, 3600)}
    c2 = Client(REMOTE_ADDR="10.9.9.9")
    assert portal_request(c2, scanned["open"], phone="13900000001").status_code == 302
    assert portal_request(c2, scanned["open"], phone="13900000002").status_code == 302
    assert portal_request(c2, scanned["open"], phone="13900000003").status_code == 429
    settings.QUNLI_PORTAL_RATE_LIMITS = {**GENEROUS, "reading_code": (2, 86400)}
    code = UseRequest.objects.first().code
    for _ in range(2):
        Client().post(reverse("portal:reading_room"), {"code": code, "last4": "0000"})
    assert Client().post(reverse("portal:reading_room"), {"code": code, "last4": "0001"}).status_code == 429


# --- certificates ------------------------------------------------------------------------------------

def test_certificate_is_a_pdf_with_a_code_anyone_can_verify(accounts, fonds, scanned):
    req = desk(accounts, fonds, scanned["open"])
    line = req.lines.get()
    cert = use.issue_certificate(accounts["women_staff"], line)
    pdf = default_storage.open(cert.storage_name).read()
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == cert.sha256
    import pypdfium2 as pdfium

    text = "".join(pdfium.PdfDocument(pdf)[0].get_textpage().get_text_range().split())  # letter-spaced title
    assert "档案利用证明" in text and cert.code in text and scanned["open"].archival_code in text
    assert "（盖章处）" in text and "经办人：" in text and "档案部门）" not in text  # a place for the seal, the clerk named
    r = Client().post(reverse("portal:verify"), {"code": cert.code.lower()})
    page = r.content.decode()
    assert "证明有效" in page and scanned["open"].archival_code in page and cert.sha256 in page
    assert "李建国" not in page and "李*" in page
    assert "没有找到" in Client().post(reverse("portal:verify"), {"code": "NOPE"}).content.decode()
    assert ChangeLog.objects.filter(action="records.issue_certificate").count() == 1
    staff = Client()
    staff.force_login(accounts["women_staff"])
    got = staff.get(reverse("records:certificate_pdf", args=[cert.pk]))
    assert b"".join(got.streaming_content) == pdf


def test_no_certificate_for_a_line_not_approved(accounts, fonds, scanned):
    req = desk(accounts, fonds, scanned["controlled"])
    with pytest.raises(ActionError, match="已批准"):
        use.issue_certificate(accounts["women_staff"], req.lines.get())
    assert not Certificate.objects.exists()


# --- register, statistics, staff pages ---------------------------------------------------------------

def test_register_lists_and_exports_without_the_phone(accounts, fonds, scanned, client_for,
                                                      django_assert_max_num_queries):
    for i in range(3):
        desk(accounts, fonds, scanned["open"], reader_name=f"读者{i}", purpose=["marriage", "land", "zhiqing"][i])
    c = client_for(accounts["women_staff"])
    with django_assert_max_num_queries(12):
        r = c.get(reverse("records:use_list"))
    assert r.status_code == 200 and "读者2" in r.content.decode()
    x = c.get(reverse("records:use_list"), {"export": "xlsx", "purpose": "land"})
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(x.streaming_content)), read_only=True)
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][:4] == ("利用单号", "登记时间", "方式", "利用者") and len(rows) == 2 and rows[1][3] == "读者1"
    assert PHONE not in str(rows) and "139****5678" in str(rows)


def test_access_figures_count_persons_items_by_purpose_and_month(accounts, fonds, scanned, archives_leader,
                                                                  tree, client_for):
    from django.utils import timezone

    year = timezone.localdate().year
    desk(accounts, fonds, scanned["open"], scanned["controlled"], purpose="zhiqing")
    req = desk(accounts, fonds, scanned["open"], purpose="marriage")
    use.submit_online(portal_actions.portal_account(), item_pk=scanned["open"].pk, reader_name="王芳", phone=PHONE,
                      purpose="marriage")
    use.issue_certificate(accounts["women_staff"], req.lines.get())
    f = use.access_figures(year)
    assert f["persons"] == 3 and f["items"] == 3  # the controlled line still waits
    assert f["by_purpose"]["婚姻登记"] == {"persons": 2, "items": 2}
    assert f["by_purpose"]["知青"] == {"persons": 1, "items": 1}
    month = timezone.localtime().month
    assert f["by_month"][month] == {"persons": 3, "items": 3} and sum(v["persons"] for v in f["by_month"].values()) == 3
    assert f["by_channel"] == {"窗口": 2, "网上": 1} and f["certificates"] == 1
    assert use.access_figures(year - 1)["persons"] == 0
    neighbour = make_user("linxian")
    grant(neighbour, "staff", tree["other_county"], all_lines=True)
    assert use.access_figures(year, user=neighbour)["persons"] == 0  # out of 邻县's reach
    assert use.access_figures(year, user=accounts["women_staff"])["persons"] == 3
    r = client_for(accounts["women_staff"]).get(reverse("records:use_stats"), {"year": year})
    assert re.search(r'id="stat-persons">3<', r.content.decode())


def test_desk_registration_and_detail_pages(accounts, fonds, scanned, client_for, archives_leader):
    c = client_for(accounts["women_staff"])
    r = c.post(reverse("records:use_add"), {"fonds": fonds.pk, "reader_name": "李建国", "phone": PHONE,
                                            "purpose": "land", "codes": f"{scanned['open'].archival_code}\nJ001-XX"})
    assert r.status_code == 200 and "J001-XX" in r.content.decode() and not UseRequest.objects.exists()
    r = c.post(reverse("records:use_add"), {"fonds": fonds.pk, "reader_name": "李建国", "phone": PHONE,
                                            "purpose": "land", "codes": scanned["open"].archival_code})
    req = UseRequest.objects.get()
    assert r.status_code == 302 and r["Location"] == req.get_absolute_url()
    c.post(reverse("records:use_add_items", args=[req.pk]), {"codes": scanned["controlled"].archival_code})
    line = req.lines.get(item=scanned["controlled"])
    assert c.post(reverse("records:use_approve", args=[line.pk])).status_code == 403
    assert UseLine.objects.get(pk=line.pk).status == "pending"  # staff are no leader
    lc = Client()
    lc.force_login(archives_leader)
    assert "批准" in lc.get(req.get_absolute_url()).content.decode()
    lc.post(reverse("records:use_approve", args=[line.pk]))
    assert UseLine.objects.get(pk=line.pk).status == "approved"
    c.post(reverse("records:use_certify", args=[line.pk]))
    assert Certificate.objects.filter(line=line).exists()


def test_a_damaged_scan_has_no_pages_and_no_server_error(accounts, fonds, capture, django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    from qunli.records import actions
    from qunli.records.tests.samples import minimal_pdf

    # capture refuses a broken file, so the damage happens in storage afterwards (bit rot)
    broken = capture(title="损坏的扫描件", openness="open", files=[("bad.pdf", minimal_pdf(b"rot"))])
    actions.file_items(accounts["women_staff"], [broken.pk])
    stored = broken.files.get().storage_name
    with open(default_storage.path(stored), "wb") as fh:
        fh.write(b"%PDF-1.4 not really a pdf")
    c = Client()
    portal_request(c, broken)
    line = UseLine.objects.get()
    assert "没有可在线阅览的页面" in c.get(reverse("portal:read_line", args=[line.pk])).content.decode()
    assert c.get(reverse("portal:read_page", args=[line.pk, 1])).status_code == 404


def test_register_filters_the_requests_waiting_for_a_leader(accounts, fonds, scanned, archives_leader, client_for):
    waiting = desk(accounts, fonds, scanned["controlled"], reader_name="等待审批者")
    desk(accounts, fonds, scanned["open"], reader_name="已自动批准者")
    page = client_for(archives_leader).get(reverse("records:use_list"), {"waiting": "1"}).content.decode()
    assert waiting.code in page and "等待审批者" in page and "已自动批准者" not in page
