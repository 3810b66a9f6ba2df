"""The public portal: submission through casework's intake, tracking by code + last four
digits (and nothing else), anti-abuse (honeypot, size limits, rate limits), escaping,
published-only notices, and the staff's notice screens."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from conftest import grant, make_user
from qunli.casework import actions as casework
from qunli.casework.models import Case, Request, RequestType
from qunli.core.models import ChangeLog, Grant
from qunli.portal import actions, ratelimit
from qunli.portal.models import Notice, RateLimit

pytestmark = pytest.mark.django_db

PHONE = "13912345678"
GENEROUS = {"submit_ip": (1000, 3600), "submit_phone": (1000, 86400), "track_ip": (1000, 3600),
            "track_code": (1000, 86400)}


@pytest.fixture
def generous(settings):
    settings.QUNLI_PORTAL_RATE_LIMITS = GENEROUS


def dv():
    return RequestType.objects.get(code="domestic_violence")


def form_data(tree, **over):
    data = {"unit": tree["women"].pk, "type": dv().pk, "name": "王小梅", "phone": PHONE,
            "description": "丈夫长期打骂，想咨询怎么申请人身安全保护令。", "consent": "on", "website": ""}
    data.update(over)
    return data


def submit(client, tree, **over):
    return client.post(reverse("portal:submit"), form_data(tree, **over))


def submit_ok(client, tree, **over) -> str:
    r = submit(client, tree, **over)
    assert r.status_code == 302, r.content.decode()[:2000]
    page = client.get(r["Location"]).content.decode()
    return re.search(r'id="tracking-code">([0-9A-Z]{10})<', page).group(1)


def track(client, code, last4, **extra):
    return client.post(reverse("portal:track"), {"code": code, "last4": last4}, **extra)


# --- submission ----------------------------------------------------------------------------------

def test_pages_are_public_chinese_and_labelled(client, tree):
    for name in ("home", "submit", "track", "notices", "submitted"):
        r = client.get(reverse(f"portal:{name}"))
        assert r.status_code == 200, name
        html = r.content.decode()
        assert '<html lang="zh-CN">' in html and 'name="viewport"' in html and "vendor/bootstrap/css" in html
        assert "跳到主要内容" in html
    html = client.get(reverse("portal:home")).content.decode()
    assert all(n in html for n in ("12351", "12338", "12355"))
    html = client.get(reverse("portal:submit")).content.decode()
    for field in ("id_unit", "id_type", "id_name", "id_phone", "id_description", "id_consent"):
        assert f'for="{field}"' in html and f'id="{field}"' in html
    assert "示范县妇联" in html and "城关镇妇联" in html  # county and township line units
    assert "东风村妇联" not in html and ">示范县<" not in html  # villages and region nodes are not offered
    assert 'tabindex="-1"' in html and 'aria-hidden="true"' in html  # the honeypot is out of reach


def test_root_is_still_the_staff_home(client):
    r = client.get("/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_submit_creates_one_request_with_encrypted_phone_shown_once(client, tree):
    code = submit_ok(client, tree)
    req = Request.objects.get()
    assert req.tracking_code == code and req.channel == "online" and req.unit == tree["women"]
    assert PHONE not in req.requester_phone_enc and req.requester_phone_enc
    assert req.requester_phone_mask == "139****5678" and "王小梅" not in req.requester_name_enc
    assert "保护令" not in req.description_enc
    case = Case.objects.get(request=req)
    assert case.status == Case.Status.RECEIVED and case.caseworker is None
    assert req.received_by.username == casework.PORTAL_ACCOUNT
    assert ChangeLog.objects.filter(action="casework.receive_request", actor=req.received_by).count() == 1
    # the confirmation is shown once: the code left the session with the first view
    again = client.get(reverse("portal:submitted")).content.decode()
    assert code not in again and "只显示一次" in again
    assert Request.objects.count() == 1


def test_portal_account_is_idempotent_without_grants_or_password(db):
    a, b = actions.portal_account(), actions.portal_account()
    assert a.pk == b.pk and a.kind == "business" and not a.has_usable_password()
    assert not Grant.objects.filter(user=a).exists()
    a.set_password("Qunli-Test-2026!")
    a.save()
    assert not actions.portal_account().has_usable_password()  # a password given to it is taken away
    from django.contrib.auth.backends import ModelBackend

    assert ModelBackend().authenticate(None, username=casework.PORTAL_ACCOUNT, password="Qunli-Test-2026!") is None


def test_public_intake_refuses_any_other_actor(tree, accounts):
    with pytest.raises(Exception, match="网上群团系统账户"):
        casework.receive_public_request(accounts["women_staff"], unit=tree["women"], type=dv(),
                                        requester_name="某", requester_phone=PHONE, description="x")


def test_units_outside_the_list_and_bad_input_are_refused_with_messages(client, tree):
    r = submit(client, tree, unit=tree["village_women"].pk)
    assert r.status_code == 200 and "请选择受理单位" in r.content.decode()
    r = submit(client, tree, phone="12345", consent="")
    html = r.content.decode()
    assert "请填写11位手机号码" in html and "请勾选同意" in html
    assert not Request.objects.exists()


# --- tracking ---------------------------------------------------------------------------------------

def test_tracking_needs_code_and_correct_last_four(client, tree):
    code = submit_ok(client, tree)
    other = Client()
    ok = track(other, code, "5678").content.decode()
    assert "已收到，正在安排工作人员" in ok and "示范县妇联" in ok
    assert track(other, code.lower(), "5678").content.decode().count("已收到") == 1  # case-insensitive code
    full_width = str.maketrans("0123456789abcdefghijklmnopqrstuvwxyz", "０１２３４５６７８９ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ")
    assert "已收到" in track(other, code.lower().translate(full_width), "５６７８").content.decode()  # a phone's IME
    assert "已收到" in track(other, code, "５６７８").content.decode()  # was a 500: compare_digest takes ASCII only
    for code_, last4 in ((code, "5679"), (code, "1234"), (code, "0000"), ("ABCDEFGHJK", "5678"), (code[:-1], "5678")):
        html = track(other, code_, last4).content.decode()
        assert "查询码或手机号后四位不正确" in html or "请填写" in html, (code_, last4)
        assert "示范县妇联" not in html and "办理状态" not in html


def test_another_persons_request_cannot_be_read(client, tree, generous):
    code_a = submit_ok(client, tree, phone="13900000001", name="甲某")
    code_b = submit_ok(Client(), tree, phone="13900000002", name="乙某")
    attacker = Client()
    assert "办理状态" not in track(attacker, code_a, "0002").content.decode()  # B's last four on A's code
    assert "办理状态" in track(attacker, code_b, "0002").content.decode()
    # guessing codes: none found
    import secrets

    from qunli.casework.models import TRACKING_ALPHABET

    for _ in range(50):
        guess = "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(10))
        assert "办理状态" not in track(attacker, guess, "0001").content.decode()


def test_hotline_request_without_phone_is_never_trackable(tree, accounts):
    case = casework.receive_request(accounts["women_staff"], unit=tree["women"], type=dv(), channel="12338",
                                    requester_name="丙某", description="电话求助")
    assert actions.track(case.request.tracking_code, "0000") is None
    assert actions.track(case.request.tracking_code, "----") is None


def test_tracking_shows_result_when_closed_but_no_notes_or_staff(client, tree, lines, accounts):
    code = submit_ok(client, tree)
    worker, sup = make_user("shegong_zhang"), make_user("dudao_li")
    for u in (worker, sup):
        grant(u, "staff", tree["county"], lines=[lines["women"]])
    worker.display_name, sup.display_name = "张社工", "李督导"
    worker.save()
    sup.save()
    case = Case.objects.get(request__tracking_code=code)
    case = casework.assign_case(accounts["women_staff"], case, caseworker=worker, supervisor=sup)
    assert "已安排工作人员办理" in track(client, code, "5678").content.decode()
    case = casework.assess(worker, case, note="内部评估：施暴者有酗酒史")
    case = casework.submit_plan(worker, case, note="内部计划")
    case = casework.approve_plan(sup, case, note="同意")
    case = casework.record_service(worker, case, visit_type="home", note="入户，内部记录")
    case = casework.follow_up(worker, case, note="回访内部记录")
    casework.close_case(worker, case, outcome="已协助申请并取得人身安全保护令", satisfaction=5, note="内部结案说明")
    html = track(client, code, "5678").content.decode()
    assert "已办结" in html and "已协助申请并取得人身安全保护令" in html and "办结时间" in html
    for secret in ("内部", "酗酒", "张社工", "李督导", "shegong_zhang", "dudao_li", "保护令。", "王小梅", PHONE):
        assert secret not in html, secret


# --- anti-abuse ----------------------------------------------------------------------------------

def test_honeypot_refuses_without_writing(client, tree):
    r = submit(client, tree, website="http://spam.example")
    assert r.status_code == 400 and "提交未能完成" in r.content.decode()
    assert not Request.objects.exists()


def test_oversize_description_is_refused_with_a_message(client, tree):
    r = submit(client, tree, description="字" * 2001)
    assert r.status_code == 200 and "2000" in r.content.decode()
    assert not Request.objects.exists()
    assert submit(client, tree, description="字" * 2000).status_code == 302


def test_oversize_body_is_refused_before_reading(client, tree):
    from urllib.parse import urlencode

    # a text-only body: 32 KB at most (a multipart body may carry attachments: test_request_attachments.py)
    r = client.post(reverse("portal:submit"), urlencode(form_data(tree, description="x" * 40_000)),
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 413 and "提交的内容过大" in r.content.decode()
    r = track(client, "A" * 40_000, "1234")
    assert r.status_code == 413
    assert not Request.objects.exists()


@pytest.fixture
def five_an_hour(settings):
    """The per-IP tests below count to a small quota of accepted submissions (the default is
    larger: test_submit_rate_limits.py)."""
    settings.QUNLI_PORTAL_RATE_LIMITS = {"submit_ip": (5, 3600)}


def test_submissions_are_rate_limited_per_ip(client, tree, five_an_hour):
    for i in range(5):
        submit_ok(client, tree, phone=f"1390000000{i}")
    r = submit(client, tree, phone="13900000009")
    assert r.status_code == 429 and "操作过于频繁" in r.content.decode()
    assert Request.objects.count() == 5
    # another address is not affected
    assert Client(REMOTE_ADDR="10.0.0.2").post(reverse("portal:submit"), form_data(tree, phone="13900000009")
                                               ).status_code == 302


def test_spoofed_forwarded_for_does_not_escape_the_ip_limit(tree, settings, five_an_hour):
    settings.QUNLI_TRUSTED_PROXIES = ["10.9.0.1"]
    flooder = Client(REMOTE_ADDR="10.0.5.1")  # not a trusted proxy: its X-Forwarded-For is ignored
    for i in range(5):
        r = flooder.post(reverse("portal:submit"), form_data(tree, phone=f"1390000010{i}"),
                         HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
        assert r.status_code == 302
    r = flooder.post(reverse("portal:submit"), form_data(tree, phone="13900000109"),
                     HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert r.status_code == 429
    assert Request.objects.count() == 5


def test_behind_a_trusted_proxy_each_client_has_its_own_quota(tree, settings, five_an_hour):
    settings.QUNLI_TRUSTED_PROXIES = ["10.9.0.1"]
    proxy = Client(REMOTE_ADDR="10.9.0.1")
    for i in range(5):
        r = proxy.post(reverse("portal:submit"), form_data(tree, phone=f"1390000020{i}"),
                       HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.7")  # leftmost entry: whatever the client sent
        assert r.status_code == 302
    flooded = proxy.post(reverse("portal:submit"), form_data(tree, phone="13900000209"),
                         HTTP_X_FORWARDED_FOR="2.2.2.2, 198.51.100.7")  # a new spoofed entry changes nothing
    assert flooded.status_code == 429
    other = proxy.post(reverse("portal:submit"), form_data(tree, phone="13900000209"),
                       HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert other.status_code == 302
    assert Request.objects.count() == 6


def test_submissions_are_rate_limited_per_phone(tree):
    for i in range(3):
        r = Client(REMOTE_ADDR=f"10.0.1.{i}").post(reverse("portal:submit"), form_data(tree))
        assert r.status_code == 302
    r = Client(REMOTE_ADDR="10.0.1.9").post(reverse("portal:submit"), form_data(tree))
    assert r.status_code == 429
    assert Request.objects.count() == 3


def test_tracking_attempts_are_rate_limited_per_ip_and_per_code(client, tree):
    code = submit_ok(client, tree)
    guesser = Client(REMOTE_ADDR="10.0.2.1")
    for i in range(20):
        assert track(guesser, f"ABCDEFGH{TRACK_SUFFIX[i]}", "1234").status_code == 200
    r = track(guesser, code, "5678")
    assert r.status_code == 429 and "操作过于频繁" in r.content.decode()  # even the right answer, once flooded
    # one code from many addresses: 10 a day
    for i in range(10):
        assert track(Client(REMOTE_ADDR=f"10.0.3.{i}"), code, f"{i:04d}").status_code == 200
    assert track(Client(REMOTE_ADDR="10.0.3.99"), code, "5678").status_code == 429


TRACK_SUFFIX = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def test_rate_factor_from_the_environment(monkeypatch, db):
    monkeypatch.setenv("QUNLI_PORTAL_RATE_FACTOR", "3")
    assert ratelimit.limit("track_ip") == (60, 3600)
    monkeypatch.setenv("QUNLI_PORTAL_RATE_FACTOR", "bad")
    assert ratelimit.limit("track_ip") == (20, 3600)


def test_rate_limit_counts_exactly_and_stores_no_plain_subject(db):
    results = [ratelimit.hit("submit_phone", PHONE) for _ in range(4)]
    assert results == [True, True, True, False]
    row = RateLimit.objects.get()
    assert row.count == 4 and PHONE not in row.key


# --- escaping ---------------------------------------------------------------------------------------

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_scripts_are_escaped_everywhere(client, tree, accounts):
    r = submit(client, tree, name=XSS, description=XSS, consent="")  # re-displayed with an error
    html = r.content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html and "&lt;script&gt;" in html
    r = track(client, XSS, "12<b>")
    assert "<script>alert" not in r.content.decode()
    code = submit_ok(client, tree, name="<script>alert(1)</script>", description=XSS)
    assert Request.objects.filter(tracking_code=code).exists()
    n = actions.create_notice(accounts["women_staff"], unit=tree["women"], title=XSS, body=XSS)
    actions.publish_notice(accounts["women_staff"], n)
    for name in ("home", "notices"):
        html = Client().get(reverse(f"portal:{name}")).content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html and "&lt;script&gt;" in html
    staff = Client()
    staff.force_login(accounts["women_staff"])
    case = Case.objects.get(request__tracking_code=code)
    html = staff.get(reverse("casework:case_detail", args=[case.pk])).content.decode()
    assert "<script>alert" not in html


# --- notices -----------------------------------------------------------------------------------------

def test_only_published_notices_are_shown(client, tree, accounts):
    staff = accounts["women_staff"]
    draft = actions.create_notice(staff, unit=tree["women"], title="草稿通知标题", body="草稿正文")
    shown = actions.create_notice(staff, unit=tree["women"], title="已发布通知标题", body="发布正文")
    actions.publish_notice(staff, shown)
    for name in ("home", "notices"):
        html = client.get(reverse(f"portal:{name}")).content.decode()
        assert "已发布通知标题" in html and "草稿通知标题" not in html
    assert "草稿正文" not in client.get(reverse("portal:notices")).content.decode()
    actions.publish_notice(staff, shown, publish=False)
    assert "已发布通知标题" not in client.get(reverse("portal:notices")).content.decode()
    assert not Notice.objects.filter(pk=draft.pk, is_published=True).exists()


def test_staff_manage_notices_within_their_grant(tree, accounts, client_for):
    c = client_for(accounts["women_staff"])
    r = c.post(reverse("portal:notice_add"), {"unit": tree["women"].pk, "title": "妇联通知", "body": "正文"})
    assert r.status_code == 302
    n = Notice.objects.get(title="妇联通知")
    assert not n.is_published and n.created_by == accounts["women_staff"]
    assert c.post(reverse("portal:notice_publish", args=[n.pk])).status_code == 302
    n.refresh_from_db()
    assert n.is_published and n.published_at
    assert "妇联通知" in c.get(reverse("portal:notice_list")).content.decode()
    assert ChangeLog.objects.filter(action__in=["portal.create_notice", "portal.publish_notice"]).count() == 2
    # the union's staff cannot see it; the read-only leader cannot publish or edit it
    union = Client()
    union.force_login(accounts["union_staff"])
    assert union.get(reverse("portal:notice_edit", args=[n.pk])).status_code == 404
    assert union.post(reverse("portal:notice_unpublish", args=[n.pk])).status_code == 404
    assert "妇联通知" not in union.get(reverse("portal:notice_list")).content.decode()
    leader = Client()
    leader.force_login(accounts["leader"])
    assert leader.post(reverse("portal:notice_unpublish", args=[n.pk])).status_code == 403
    r = union.post(reverse("portal:notice_add"), {"unit": tree["women"].pk, "title": "越权", "body": "x"})
    assert r.status_code == 200 and not Notice.objects.filter(title="越权").exists()
    # administrators see no business data
    admin = Client()
    admin.force_login(accounts["sysadmin"])
    assert admin.get(reverse("portal:notice_list")).status_code == 403


def test_unit_picker_groups_by_county_keeps_the_choice_and_escapes(client, tree, lines):
    from conftest import add_unit

    add_unit(tree["town"], name="<b>城关镇</b>总工会", level="township", line=lines["union"])
    html = client.get(reverse("portal:submit")).content.decode()
    group = html[html.index('<optgroup label="示范县">'):]
    group = group[:group.index("</optgroup>")]
    assert "示范县妇联" in group and "城关镇妇联" in group and "&lt;b&gt;城关镇&lt;/b&gt;总工会" in group
    assert "东风村妇联" not in html  # village units take no requests
    assert '<optgroup label="邻县">' in html and "邻县妇联" in html
    r = submit(client, tree, description="")  # re-displayed with an error: the chosen unit stays chosen
    assert f'<option value="{tree["women"].pk}" data-line="{lines["women"].pk}" selected>' in r.content.decode()
