"""Wishes (微心愿): the lifecycle and its refusals, exactly-once claims (also under real
concurrency on PostgreSQL), the donor's phone sealed and revealed with an access log, the
fulfilment photo checked and hashed, unit-grant scoping with masked identity, the public
wall and claim form (published only, nothing identifying, the submit form's anti-abuse),
and query-count ceilings."""

import datetime as dt
import hashlib
import threading

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from qunli.casework import wish_actions as wa
from qunli.casework.models import Wish, age_range
from qunli.core.actions import ActionError
from qunli.core.models import AccessLog, ChangeLog, User
from qunli.portal import actions as portal_actions

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
DONOR_PHONE = "13812345678"
CHILD_NAME = "欧阳小明"
S = Wish.Status


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path)}}}


@pytest.fixture
def child(tree, person_factory):
    p = person_factory(unit=tree["village_women"], name=CHILD_NAME, phone="13700001111")
    p.birth_date = dt.date.today().replace(year=dt.date.today().year - 9)
    p.workplace = "东风村小学"
    p.save()
    return p


@pytest.fixture
def staff(accounts):
    return accounts["party_office"]


@pytest.fixture
def portal():
    return portal_actions.portal_account()


def collect(staff, child, unit, **kw) -> Wish:
    data = {"category": "school", "text": "想要一套新的课外书", "amount": "120"}
    data.update(kw)
    return wa.collect_wish(staff, served=child, unit=unit, **data)


def reviewer() -> User:
    """县妇联's staff member (the ``accounts`` fixture): approval is four-eyes, never by the
    one who registered the wish."""
    return User.objects.get(username="fulian")


def published(staff, child, unit, **kw) -> Wish:
    w = collect(staff, child, unit, **kw)
    wa.approve_wish(reviewer(), w)
    return wa.publish_wish(staff, w)


def claim(portal, w, name="李爱心", phone=DONOR_PHONE, org="县实验中学"):
    return wa.claim_wish(portal, w.pk, name=name, phone=phone, org=org)


# --- lifecycle -------------------------------------------------------------------------------------

def test_full_lifecycle_each_step_logged(staff, child, tree, portal):
    w = collect(staff, child, tree["women"])
    assert w.status == S.PENDING and w.served_name_mask == "欧***" and w.served.person_id == child.pk
    w = wa.approve_wish(reviewer(), w)
    assert w.status == S.APPROVED and w.reviewed_by == reviewer()
    w = wa.publish_wish(staff, w)
    assert w.status == S.PUBLISHED and w.public_name == "欧*" and w.age_range == "8–10岁"
    w = claim(portal, w)
    assert w.status == S.CLAIMED and w.donor_name == "李爱心" and w.donor_phone_mask == "138****5678"
    w = wa.fulfil_wish(staff, w, photo=("done.png", PNG))
    assert w.status == S.FULFILLED and w.photo_sm3 == hashlib.new("sm3", PNG).hexdigest()
    assert w.photo_name.startswith("pairing/")  # the same store as pairing photos
    steps = list(ChangeLog.objects.filter(object_type="casework.wish", object_id=str(w.pk)).order_by("seq")
                 .values_list("action", flat=True))
    assert steps == ["casework.collect_wish", "casework.approve_wish", "casework.publish_wish",
                     "casework.claim_wish", "casework.fulfil_wish"]


def test_age_range_bands():
    today = dt.date(2026, 6, 1)
    assert age_range(dt.date(2018, 6, 1), today) == "8–10岁"
    assert age_range(dt.date(2016, 6, 2), today) == "8–10岁"  # 9 the day before the birthday
    assert age_range(dt.date(2015, 6, 1), today) == "11–13岁"
    assert age_range(dt.date(2025, 6, 1), today) == "2岁以下"
    assert age_range(dt.date(1990, 1, 1), today) == "30–39岁"
    assert age_range(None, today) == ""


def test_illegal_transitions_refused_in_chinese_and_change_nothing(staff, child, tree, portal):
    w = collect(staff, child, tree["women"])
    with pytest.raises(ActionError, match="只有审核通过的微心愿可以发布"):
        wa.publish_wish(staff, w)
    with pytest.raises(ActionError, match="该微心愿不存在或未发布"):
        claim(portal, w)
    with pytest.raises(ActionError, match="只有已认领的微心愿可以确认圆梦"):
        wa.fulfil_wish(staff, w, photo=("a.png", PNG))
    with pytest.raises(ActionError, match="请填写未通过原因"):
        wa.reject_wish(staff, w, reason=" ")
    w = wa.reject_wish(staff, w, reason="内容不宜公开")
    assert w.reject_reason == "内容不宜公开"
    with pytest.raises(ActionError, match="只有待审核的微心愿可以审核通过"):
        wa.approve_wish(staff, w)
    with pytest.raises(ActionError, match="只有已认领未圆梦的微心愿可以取消认领"):
        wa.cancel_claim(staff, w, reason="x")
    assert Wish.objects.get(pk=w.pk).status == S.REJECTED
    assert ChangeLog.objects.filter(object_type="casework.wish").count() == 2


def test_bad_input_refused(staff, child, tree):
    with pytest.raises(ActionError, match="预计金额"):
        collect(staff, child, tree["women"], amount="abc")
    with pytest.raises(ActionError, match="预计金额"):
        collect(staff, child, tree["women"], amount="0")
    with pytest.raises(ActionError, match="心愿类别"):
        collect(staff, child, tree["women"], category="toys")
    with pytest.raises(ActionError, match="不能超过200字"):
        collect(staff, child, tree["women"], text="书" * 201)
    assert not Wish.objects.exists()


def test_rights_read_only_and_other_line_refused(accounts, staff, child, tree, portal):
    with pytest.raises(PermissionDenied):
        collect(accounts["leader"], child, tree["women"])
    w = collect(staff, child, tree["women"])
    for who in ("leader", "union_staff", "clerk"):
        with pytest.raises(PermissionDenied):
            wa.approve_wish(accounts[who], w)
    with pytest.raises(PermissionDenied):
        wa.claim_wish(staff, w.pk, name="x", phone=DONOR_PHONE)  # only the portal's account claims
    assert Wish.objects.get(pk=w.pk).status == S.PENDING


# --- claims ----------------------------------------------------------------------------------------

def test_claim_once_second_claim_refused(staff, child, tree, portal):
    w = published(staff, child, tree["women"])
    claim(portal, w)
    with pytest.raises(ActionError, match="已被其他爱心人士认领"):
        claim(portal, w, name="王二", phone="13900000000")
    assert Wish.objects.get(pk=w.pk).donor_name == "李爱心"


def test_claim_refused_when_the_row_moved_after_it_was_read(staff, child, tree, portal, monkeypatch):
    """The race on one connection: the other claim commits between our read and our UPDATE;
    the conditional UPDATE matches nothing and the claim is refused."""
    w = published(staff, child, tree["women"])
    real_update = wa.Wish.objects.filter(pk=w.pk).update
    state = {"done": False}
    original_filter = type(Wish.objects.all()).filter

    def racing_filter(qs, *args, **kwargs):
        if kwargs.get("status") == S.PUBLISHED and kwargs.get("pk") == w.pk and not state["done"]:
            state["done"] = True
            real_update(status=S.CLAIMED, donor_name="先到者")
        return original_filter(qs, *args, **kwargs)

    monkeypatch.setattr(type(Wish.objects.all()), "filter", racing_filter)
    with pytest.raises(ActionError, match="已被其他爱心人士认领"):
        claim(portal, w)
    monkeypatch.undo()
    assert state["done"]  # (the simulated winner's write was inside our rolled-back transaction)
    assert not ChangeLog.objects.filter(action="casework.claim_wish").exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif("sqlite" in django_settings.DATABASES["default"]["ENGINE"],
                    reason="the SQLite test database is one in-memory connection; the PostgreSQL run covers this")
def test_concurrent_claims_exactly_one_wins(staff, child, tree):
    w = published(staff, child, tree["women"])
    portal = portal_actions.portal_account()
    n = 6
    barrier, wins, refusals, errors = threading.Barrier(n), [], [], []

    def donor(i):
        try:
            barrier.wait()
            wa.claim_wish(portal, w.pk, name=f"爱心{i}", phone=f"1390000000{i}")
            wins.append(i)
        except ActionError:
            refusals.append(i)
        except Exception as e:  # collected and asserted below
            errors.append(e)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=donor, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(wins) == 1 and len(refusals) == n - 1
    w.refresh_from_db()
    assert w.status == S.CLAIMED and w.donor_name == f"爱心{wins[0]}"
    assert ChangeLog.objects.filter(action="casework.claim_wish").count() == 1


def test_cancel_claim_puts_it_back_on_the_wall(staff, child, tree, portal):
    w = published(staff, child, tree["women"])
    claim(portal, w)
    w = wa.cancel_claim(staff, w, reason="认领人联系不上")
    assert w.status == S.PUBLISHED and w.donor_name == "" and w.donor_phone_enc == ""
    log = ChangeLog.objects.get(action="casework.cancel_claim")
    assert log.after["reason"] == "认领人联系不上" and log.before["donor_phone_enc"] == "已加密"
    assert claim(portal, w, name="第二位").status == S.CLAIMED


def test_staff_record_an_offline_claim_and_the_portal_can_no_longer_claim_it(staff, child, tree, portal):
    w = published(staff, child, tree["women"])
    w = wa.record_claim(staff, w, name="县建设银行支行", phone=DONOR_PHONE, org="结对认领")
    assert w.status == S.CLAIMED and w.donor_name == "县建设银行支行" and w.donor_phone_mask == "138****5678"
    assert DONOR_PHONE not in w.donor_phone_enc and wa.reveal_donor(staff, w) == DONOR_PHONE
    log = ChangeLog.objects.get(action="casework.record_claim")
    assert log.actor_id == staff.pk and log.after["donor_phone_enc"] == "已加密"
    with pytest.raises(ActionError, match="已被其他爱心人士认领"):
        claim(portal, w, name="网上来的")
    assert Wish.objects.get(pk=w.pk).donor_name == "县建设银行支行"


def test_recording_a_claim_refuses_what_is_not_on_the_wall_or_bad_input_and_changes_nothing(
        accounts, staff, child, tree, portal):
    pending = collect(staff, child, tree["women"])
    with pytest.raises(ActionError, match="请先发布"):
        wa.record_claim(staff, pending, name="李爱心", phone=DONOR_PHONE)
    w = published(staff, child, tree["women"], text="想要一个新书包")
    with pytest.raises(ActionError, match="联系电话"):
        wa.record_claim(staff, w, name="李爱心", phone="12345")
    with pytest.raises(ActionError, match="认领人姓名"):
        wa.record_claim(staff, w, name=" ", phone=DONOR_PHONE)
    with pytest.raises(PermissionDenied):  # read-only on the unit
        wa.record_claim(accounts["leader"], w, name="李爱心", phone=DONOR_PHONE)
    assert Wish.objects.get(pk=w.pk).status == S.PUBLISHED and Wish.objects.get(pk=w.pk).donor_name == ""
    assert not ChangeLog.objects.filter(action="casework.record_claim").exists()
    claim(portal, w)
    with pytest.raises(ActionError, match="已被其他爱心人士认领"):
        wa.record_claim(staff, w, name="来晚了", phone="13900000000")


def test_donor_phone_sealed_and_revealed_with_access_log(accounts, staff, child, tree, portal):
    w = claim(portal, published(staff, child, tree["women"]))
    with connection.cursor() as cur:
        cur.execute("SELECT donor_phone_enc FROM casework_wish WHERE id = %s", [w.pk])
        stored = cur.fetchone()[0]
    assert stored and DONOR_PHONE not in stored
    assert DONOR_PHONE not in str(ChangeLog.objects.get(action="casework.claim_wish").after)
    with pytest.raises(PermissionDenied):
        wa.reveal_donor(accounts["leader"], w)
    assert not AccessLog.objects.exists()
    assert wa.reveal_donor(staff, w, purpose="联系圆梦") == DONOR_PHONE
    assert AccessLog.objects.filter(actor=staff, fields="donor_phone", purpose="联系圆梦").exists()


def test_fulfil_photo_checked(staff, child, tree, portal):
    w = claim(portal, published(staff, child, tree["women"]))
    with pytest.raises(ActionError, match="JPG 或 PNG"):
        wa.fulfil_wish(staff, w, photo=("x.gif", b"GIF89a"))
    with pytest.raises(ActionError, match="不符"):
        wa.fulfil_wish(staff, w, photo=("x.jpg", PNG))
    with pytest.raises(ActionError, match="请上传圆梦照片"):
        wa.fulfil_wish(staff, w, photo=None)
    assert Wish.objects.get(pk=w.pk).status == S.CLAIMED


def test_fulfilment_records_what_was_spent_and_the_figures_count_it(client_for, staff, child, tree, portal):
    from decimal import Decimal

    from qunli.casework.queries import dashboard

    w = claim(portal, published(staff, child, tree["women"]))
    with pytest.raises(ActionError, match="实际金额须大于0"):
        wa.fulfil_wish(staff, w, photo=("x.png", PNG), amount="-5")
    assert Wish.objects.get(pk=w.pk).status == S.CLAIMED  # nothing written
    c = client_for(staff)
    r = c.post(reverse("casework:wish_fulfil", args=[w.pk]),
               {"photo": SimpleUploadedFile("x.png", PNG, "image/png"), "amount": "86.50",
                "note": "已送达书包一个、文具一套"}, follow=True)
    w = Wish.objects.get(pk=w.pk)
    assert w.status == S.FULFILLED and w.fulfilled_amount == Decimal("86.50") and w.fulfil_note == "已送达书包一个、文具一套"
    page = r.content.decode()
    assert "实际金额" in page and "86.50 元" in page and "已送达书包一个" in page
    assert dashboard(staff)["wishes"]["amount_fulfilled"] == Decimal("86.50")  # not the 预计金额 of the wish


# --- staff pages -------------------------------------------------------------------------------------

def test_staff_pages_mask_identity_and_export(client_for, staff, child, tree, portal):
    w = claim(portal, published(staff, child, tree["women"]))
    c = client_for(staff)
    for page in (c.get(reverse("casework:wish_list")).content.decode(),
                 c.get(reverse("casework:wish_detail", args=[w.pk])).content.decode()):
        assert "欧***" in page and CHILD_NAME not in page and DONOR_PHONE not in page and "138****5678" in page
    r = c.get(reverse("casework:wish_list"), {"export": "xlsx"})
    import io

    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)), read_only=True)
    cells = [str(v) for row in wb.active.iter_rows(values_only=True) for v in row if v is not None]
    assert "欧***" in cells and CHILD_NAME not in cells and DONOR_PHONE not in " ".join(cells)
    r = c.post(reverse("casework:wish_reveal", args=[w.pk]), {"purpose": "联系"})
    assert DONOR_PHONE in r.content.decode()
    history = c.get(reverse("casework:wish_detail", args=[w.pk]), {"tab": "history"}).content.decode()
    assert "网上认领微心愿" in history and "casework.claim_wish" not in history
    assert DONOR_PHONE not in history


def test_staff_ui_lifecycle(client_for, staff, child, tree, portal):
    c = client_for(staff)
    r = c.post(reverse("casework:wish_add"), {"unit": tree["women"].pk, "served": child.pk, "category": "daily",
                                               "text": "想要一件冬天的棉衣", "amount": "150"})
    assert r.status_code == 302, r.content.decode()[:3000]
    w = Wish.objects.get()
    assert c.post(reverse("casework:wish_publish", args=[w.pk])).status_code == 302
    assert Wish.objects.get().status == S.PENDING  # refused: not approved yet
    c.post(reverse("casework:wish_approve", args=[w.pk]))
    assert Wish.objects.get().status == S.PENDING  # refused: the registrant does not review
    other = Client()
    other.force_login(reviewer())
    other.post(reverse("casework:wish_approve", args=[w.pk]))
    c.post(reverse("casework:wish_publish", args=[w.pk]))
    assert Wish.objects.get().status == S.PUBLISHED
    assert c.get(reverse("casework:wish_claim", args=[w.pk])).status_code == 200
    r = c.post(reverse("casework:wish_claim", args=[w.pk]), {"name": "李爱心", "phone": "138", "org": ""})
    assert "请填写正确的联系电话" in r.content.decode() and Wish.objects.get().status == S.PUBLISHED
    r = c.post(reverse("casework:wish_claim", args=[w.pk]), {"name": "李爱心", "phone": DONOR_PHONE, "org": "县实验中学"})
    assert r.status_code == 302 and Wish.objects.get().status == S.CLAIMED
    for name in ("wish_add", "wish_reject", "wish_cancel_claim", "wish_fulfil"):
        url = reverse(f"casework:{name}", args=[] if name == "wish_add" else [w.pk])
        assert c.get(url).status_code == 200, name
    r = c.post(reverse("casework:wish_fulfil", args=[w.pk]), {"photo": _upload("bad.gif", b"GIF89a")})
    assert "JPG 或 PNG" in r.content.decode() and Wish.objects.get().status == S.CLAIMED
    r = c.post(reverse("casework:wish_fulfil", args=[w.pk]), {"photo": _upload("ok.png", PNG)})
    assert r.status_code == 302 and Wish.objects.get().status == S.FULFILLED
    r = c.get(reverse("casework:wish_photo", args=[w.pk]))
    assert b"".join(r.streaming_content) == PNG and AccessLog.objects.filter(fields="fulfil_photo").exists()


def _upload(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def test_scoping_other_line_and_county(client_for, accounts, staff, child, tree):
    w = collect(staff, child, tree["women"])
    assert client_for(accounts["union_staff"]).get(reverse("casework:wish_detail", args=[w.pk])).status_code == 404
    assert client_for(accounts["women_staff"]).get(reverse("casework:wish_detail", args=[w.pk])).status_code == 200
    assert client_for(accounts["leader"]).post(reverse("casework:wish_approve", args=[w.pk])).status_code == 404


def test_query_count_ceilings(client_for, staff, child, tree, portal, person_factory, django_assert_max_num_queries):
    for i in range(15):
        p = person_factory(unit=tree["village_women"], name=f"孩子{i}")
        w = published(staff, p, tree["women"])
        if i % 3 == 0:
            claim(portal, w, phone=f"1380000{i:04d}")
    c = client_for(staff)
    w = Wish.objects.filter(status=S.CLAIMED).first()
    with django_assert_max_num_queries(12):
        assert c.get(reverse("casework:wish_list")).status_code == 200
    with django_assert_max_num_queries(10):
        assert c.get(reverse("casework:wish_detail", args=[w.pk])).status_code == 200
    anon = Client()
    with django_assert_max_num_queries(6):
        assert anon.get(reverse("portal:wishes")).status_code == 200
    with django_assert_max_num_queries(3):
        assert anon.get(reverse("portal:wish_claim", args=[w.pk])).status_code == 200


# --- the portal ------------------------------------------------------------------------------------

GENEROUS = {"claim_ip": (1000, 3600), "claim_phone": (1000, 86400)}


def claim_form(**over):
    data = {"name": "李爱心", "phone": DONOR_PHONE, "org": "", "consent": "on", "website": ""}
    data.update(over)
    return data


def test_wall_shows_published_only_and_nothing_identifying(client, staff, child, tree, portal):
    pending = collect(staff, child, tree["women"], text="待审核的心愿")
    approved = wa.approve_wish(reviewer(), collect(staff, child, tree["women"], text="未发布的心愿"))
    rejected = wa.reject_wish(staff, collect(staff, child, tree["women"], text="未通过的心愿"), reason="不宜")
    unpublished = wa.unpublish_wish(staff, published(staff, child, tree["women"], text="撤回的心愿"))
    shown = published(staff, child, tree["women"], text="想要一个新书包")
    done = claim(portal, published(staff, child, tree["women"], text="想要一双运动鞋"))
    wa.fulfil_wish(staff, done, photo=("a.png", PNG))
    page = client.get(reverse("portal:wishes")).content.decode()
    assert "想要一个新书包" in page and "想要一双运动鞋" in page and "已圆梦" in page
    assert "欧*" in page and "8–10岁" in page and "示范县妇联" in page
    for hidden in ("待审核的心愿", "未发布的心愿", "未通过的心愿", "撤回的心愿"):
        assert hidden not in page
    for w in (pending, approved, rejected, unpublished):
        assert client.get(reverse("portal:wish_claim", args=[w.pk])).status_code == 404
        assert client.post(reverse("portal:wish_claim", args=[w.pk]), claim_form()).status_code == 404
    assert client.get(reverse("portal:wish_claim", args=[999999])).status_code == 404
    # nothing that identifies the child, on any public page
    id_number = child.reveal("id_number") if hasattr(child, "reveal") else None
    for url in (reverse("portal:wishes"), reverse("portal:wish_claim", args=[shown.pk]),
                reverse("portal:wish_claim", args=[done.pk]), reverse("portal:home")):
        html = client.get(url).content.decode()
        for secret in (CHILD_NAME, "小明", "13700001111", "东风村小学", child.id_number_mask, id_number):
            if secret:
                assert secret not in html, (url, secret)
        assert "李爱心" not in html and DONOR_PHONE not in html


def test_wall_filters_and_pages(client, staff, child, tree, person_factory):
    for i in range(14):
        published(staff, child, tree["women"], text=f"书本{i:02d}", category="school")
    published(staff, child, tree["town_women"], text="生活用品心愿", category="daily")
    page = client.get(reverse("portal:wishes"), {"category": "daily"}).content.decode()
    assert "生活用品心愿" in page and "书本" not in page
    page = client.get(reverse("portal:wishes"), {"unit": tree["town_women"].pk}).content.decode()
    assert "生活用品心愿" in page and "书本" not in page
    first = client.get(reverse("portal:wishes"), {"category": "school"}).content.decode()
    second = client.get(reverse("portal:wishes"), {"category": "school", "page": 2}).content.decode()
    assert first.count("书本") == 12 and second.count("书本") == 2 and "category=school&page=2" in first
    assert client.get(reverse("portal:wishes"), {"unit": "x'; drop", "page": "zz"}).status_code == 200


def test_portal_claim_flow_and_thanks(client, settings, staff, child, tree):
    settings.QUNLI_PORTAL_RATE_LIMITS = GENEROUS
    w = published(staff, child, tree["women"])
    r = client.post(reverse("portal:wish_claim", args=[w.pk]), claim_form(org="<script>alert(1)</script>"))
    assert r.status_code == 302 and r["Location"] == reverse("portal:wish_thanks")
    page = client.get(r["Location"]).content.decode()
    assert "示范县妇联" in page and "联系" in page
    w.refresh_from_db()
    assert w.status == S.CLAIMED and w.donor_org == "<script>alert(1)</script>"
    staff_page = Client()
    staff_page.force_login(staff)
    html = staff_page.get(reverse("casework:wish_detail", args=[w.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    # the wish left the waiting list; its claim page says so, another claim is refused
    assert "认领这个心愿" not in client.get(reverse("portal:wishes")).content.decode()
    assert "已被其他爱心人士认领" in client.get(reverse("portal:wish_claim", args=[w.pk])).content.decode()
    r = client.post(reverse("portal:wish_claim", args=[w.pk]), claim_form(name="王二", phone="13900000000"))
    assert r.status_code == 200 and Wish.objects.get(pk=w.pk).donor_name == "李爱心"


def test_portal_claim_bad_input(client, settings, staff, child, tree):
    settings.QUNLI_PORTAL_RATE_LIMITS = GENEROUS
    w = published(staff, child, tree["women"])
    url = reverse("portal:wish_claim", args=[w.pk])
    r = client.post(url, claim_form(website="http://spam.example"))
    assert r.status_code == 400 and "提交未能完成" in r.content.decode()
    r = client.post(url, claim_form(phone="12345"))
    assert r.status_code == 200 and "请填写11位手机号码" in r.content.decode()
    r = client.post(url, claim_form(name="名" * 51))
    assert "姓名不能超过50字" in r.content.decode()
    r = client.post(url, claim_form(consent=""))
    assert "请勾选同意" in r.content.decode()
    r = client.post(url, claim_form(org="x" * 40_000))
    assert r.status_code == 413
    assert Wish.objects.get(pk=w.pk).status == S.PUBLISHED


def test_portal_claims_rate_limited_per_ip_and_phone(staff, child, tree, settings):
    wishes = [published(staff, child, tree["women"], text=f"心愿{i}") for i in range(14)]
    flood = Client(REMOTE_ADDR="10.9.0.1")
    for _ in range(60):  # a script: every POST counts under the generous limit
        assert flood.post(reverse("portal:wish_claim", args=[wishes[0].pk]), claim_form(phone="1")).status_code == 200
    r = flood.post(reverse("portal:wish_claim", args=[wishes[0].pk]), claim_form())
    assert r.status_code == 429 and "操作过于频繁" in r.content.decode()
    assert Wish.objects.get(pk=wishes[0].pk).status == S.PUBLISHED
    for i in range(3):  # one phone from many addresses: 3 claims a day
        r = Client(REMOTE_ADDR=f"10.9.1.{i}").post(reverse("portal:wish_claim", args=[wishes[i].pk]), claim_form())
        assert r.status_code == 302
    r = Client(REMOTE_ADDR="10.9.1.9").post(reverse("portal:wish_claim", args=[wishes[5].pk]), claim_form())
    assert r.status_code == 429 and "该手机号今天已提交3次，已达上限" in r.content.decode()  # on the form, named
    assert Wish.objects.filter(status=S.CLAIMED).count() == 3


def test_a_donors_mistakes_do_not_use_up_the_claim_quota_of_the_address(staff, child, tree, settings):
    settings.QUNLI_PORTAL_RATE_LIMITS = {"claim_ip": (2, 3600), "claim_phone": (1000, 86400)}
    wishes = [published(staff, child, tree["women"], text=f"心愿{i}") for i in range(4)]
    station = Client(REMOTE_ADDR="10.9.2.1")  # a 关爱工作站 computer helping several donors
    for _ in range(5):  # wrong phone numbers and a wish already taken are refused, not counted
        assert station.post(reverse("portal:wish_claim", args=[wishes[0].pk]), claim_form(phone="1")).status_code == 200
    assert station.post(reverse("portal:wish_claim", args=[wishes[0].pk]), claim_form()).status_code == 302
    assert station.post(reverse("portal:wish_claim", args=[wishes[0].pk]),
                        claim_form(phone="13900000011")).status_code == 200  # already claimed: refunded
    assert station.post(reverse("portal:wish_claim", args=[wishes[1].pk]),
                        claim_form(phone="13900000012")).status_code == 302
    r = station.post(reverse("portal:wish_claim", args=[wishes[2].pk]), claim_form(phone="13900000013"))
    assert r.status_code == 429  # the third accepted claim of the hour from one address
    assert Wish.objects.filter(status=S.CLAIMED).count() == 2
