"""Staff notifications: the unread counter, the inbox and its API, one's own contact
settings, the outbound backends against a real local HTTP server (no mocks), and the
administrator's outbound log."""

import json

import pytest

from conftest import make_user
from qunli.core import crypto
from qunli.core.models import ChangeLog, User
from qunli.core.notification_models import Notification, NotifyContact, OutboundMessage
from qunli.core.notifications import Pending, deliver, deliver_now, mark_all_read, mark_read, set_contact
from qunli.core.notify_backends import HttpSmsBackend, LoggingBackend, WeChatTemplateBackend, dispatch
from qunli.core.tests.gateway import serve
from qunli.core.tests.queue import run_queued

pytestmark = pytest.mark.django_db


@pytest.fixture
def gateway():
    with serve() as g:
        yield g


@pytest.fixture
def staff(db):
    u = make_user("xiaozhang")
    set_contact(u, phone="13912345678", wechat_openid="oWx_abcdef123456", sms_enabled=True, wechat_enabled=True)
    return u


def notice(user, kind="assigned", title="您被分派为个案 ABCDEFGHJK 的个案社工", key=""):
    return Pending(user.pk, kind, title, "/casework/1/", "", "", key)


# --- counter and inbox -------------------------------------------------------------------------

def test_unread_counter_follows_inserts_and_reads(staff):
    deliver_now([notice(staff), notice(staff, kind="overdue")])
    staff.refresh_from_db()
    assert staff.unread_notifications == 2
    first = Notification.objects.filter(recipient=staff).first()
    assert mark_read(staff, [first.pk]) == 1 and staff.unread_notifications == 1
    assert mark_read(staff, [first.pk]) == 0  # already read: nothing changes
    assert mark_all_read(staff) == 1 and staff.unread_notifications == 0
    assert ChangeLog.objects.filter(action="core.mark_all_notifications_read").exists()


def test_dedupe_key_inserts_once(staff):
    assert len(deliver_now([notice(staff, key="case:1:2030-09-06")] * 2)) == 1
    assert deliver_now([notice(staff, key="case:1:2030-09-06")]) == []
    assert Notification.objects.count() == 1 and User.objects.get(pk=staff.pk).unread_notifications == 1


def test_cannot_mark_someone_elses_notification(staff, client_for):
    other = make_user("xiaoli")
    deliver_now([notice(other)])
    n = Notification.objects.get()
    assert mark_read(staff, [n.pk]) == 0 and Notification.objects.get().read_at is None
    c = client_for(staff)
    assert c.post(f"/core/notifications/{n.pk}/read/").status_code == 404
    assert c.post(f"/api/notifications/{n.pk}/read").status_code == 404
    assert c.post("/api/notifications/read", {"ids": [n.pk]}, content_type="application/json").json()["marked"] == 0
    assert Notification.objects.get().read_at is None


def test_a_message_link_marks_the_notice_read_and_opens_its_target_only_while_visible(staff, client_for, tree):
    from conftest import grant

    grant(staff, "staff", tree["town"], all_lines=True)
    mine, foreign = tree["town"], tree["other_county"]
    deliver_now([Pending(staff.pk, "assigned", "本镇通知", mine.get_absolute_url(), "orgs.unit", str(mine.pk)),
                 Pending(staff.pk, "assigned", "邻镇通知", foreign.get_absolute_url(), "orgs.unit", str(foreign.pk))])
    seen, hidden = Notification.objects.filter(recipient=staff).order_by("pk")
    from django.test import Client

    login = Client().get(f"/core/notifications/{seen.pk}/open/")
    assert login.status_code == 302 and "/open/" in login["Location"]  # to the login first, then back here
    c = client_for(staff)
    r = c.get(f"/core/notifications/{seen.pk}/open/")
    assert r.status_code == 302 and r["Location"] == mine.get_absolute_url()
    r = c.get(f"/core/notifications/{hidden.pk}/open/", follow=True)
    assert r.redirect_chain[-1][0].endswith("/core/notifications/") and "已不在您的办理范围内" in r.content.decode()
    assert Notification.objects.filter(recipient=staff, read_at__isnull=True).count() == 0
    other = make_user("xiaoli")
    deliver_now([notice(other)])
    assert c.get(f"/core/notifications/{Notification.objects.get(recipient=other).pk}/open/").status_code == 404


def test_bell_shows_the_unread_count_without_a_query(staff, client_for, django_assert_max_num_queries):
    deliver_now([notice(staff), notice(staff, kind="due_soon")])
    c = client_for(staff)
    page = c.get("/core/notifications/").content.decode()
    assert 'data-unread>2<' in page
    with django_assert_max_num_queries(10):
        c.get("/core/notifications/")
    c.post("/core/notifications/read-all/")
    assert "data-unread" not in c.get("/core/notifications/").content.decode()


def test_inbox_list_query_count_is_flat(staff, client_for, django_assert_max_num_queries):
    deliver_now([notice(staff, title=f"通知 {i}") for i in range(25)])
    c = client_for(staff)
    with django_assert_max_num_queries(10):
        page = c.get("/core/notifications/").content.decode()
    assert "通知 24" in page


def test_notifications_api_lists_and_marks(staff, client_for):
    deliver_now([notice(staff), notice(staff, kind="overdue")])
    c = client_for(staff)
    body = c.get("/api/notifications").json()
    assert body["count"] == 2 and body["unread"] == 2
    ids = [i["id"] for i in body["items"]]
    r = c.post("/api/notifications/read", {"ids": ids[:1]}, content_type="application/json").json()
    assert r == {"marked": 1, "unread": 1}
    assert c.get("/api/notifications", {"unread": "true"}).json()["count"] == 1
    assert c.post("/api/notifications/read-all").json() == {"marked": 1, "unread": 0}


# --- contact settings ----------------------------------------------------------------------

def test_contact_phone_is_sealed_and_validated(staff, client_for):
    c = NotifyContact.objects.get(user=staff)
    assert c.phone_mask == "139****5678" and "13912345678" not in c.phone_enc
    assert crypto.decrypt(c.phone_enc) == "13912345678"
    entry = ChangeLog.objects.filter(action="core.set_notify_contact").last()
    assert "13912345678" not in json.dumps(entry.after)
    page = client_for(staff).post("/core/notifications/contact/", {"phone": "123", "sms_enabled": "on"})
    assert page.status_code == 200 and crypto.decrypt(NotifyContact.objects.get(user=staff).phone_enc) == "13912345678"
    # the mask posted back unchanged keeps the number
    client_for(staff).post("/core/notifications/contact/", {"phone": "139****5678", "sms_enabled": "on"})
    assert crypto.decrypt(NotifyContact.objects.get(user=staff).phone_enc) == "13912345678"


# --- backends against a real HTTP server ------------------------------------------------------

def test_sms_and_wechat_backends_deliver_to_a_real_gateway(staff, gateway):
    url, received = gateway
    backends = [HttpSmsBackend(url=f"{url}/sms", token="s3cret", sign="群力"),
                WeChatTemplateBackend(url=f"{url}/wx", template_id="TPL1", base_url="https://qunli.example.cn")]
    n = deliver_now([notice(staff)])
    out = dispatch(n, backends)
    assert [(m.channel, m.status, m.provider_ref) for m in out] == [("sms", "sent", "sms-42"),
                                                                     ("wechat", "sent", "2001")]
    sms, wx = received
    assert sms["auth"] == "Bearer s3cret" and sms["body"]["phone"] == "13912345678" and sms["body"]["sign"] == "群力"
    assert "ABCDEFGHJK" not in sms["body"]["text"]  # generic text: no case data leaves by SMS
    assert wx["body"]["touser"] == "oWx_abcdef123456" and wx["body"]["template_id"] == "TPL1"
    assert wx["body"]["url"] == f"https://qunli.example.cn/core/notifications/{n[0].pk}/open/"
    rows = OutboundMessage.objects.order_by("pk")
    assert [r.to_mask for r in rows] == ["139****5678", "oWx_****56"]
    assert all("13912345678" not in r.to_enc for r in rows)


def test_gateway_failures_are_recorded_not_raised(staff, gateway):
    url, _ = gateway
    n = deliver_now([notice(staff)])
    out = dispatch(n, [HttpSmsBackend(url=f"{url}/sms-refused"), HttpSmsBackend(url=f"{url}/sms-down", name="sms2"),
                       WeChatTemplateBackend(url=f"{url}/wx-bad-token"),
                       HttpSmsBackend(url="http://127.0.0.1:9/nothing-listens", timeout=2, name="sms3"),
                       LoggingBackend()])
    statuses = [(m.backend, m.status) for m in out]
    assert statuses == [("sms", "failed"), ("sms2", "failed"), ("wechat", "failed"), ("sms3", "failed"),
                        ("logging", "logged")]
    errors = [m.error for m in out]
    assert "号码在黑名单" in errors[0] and errors[1] == "HTTP 503" and "40001" in errors[2] and "连接失败" in errors[3]
    assert OutboundMessage.objects.filter(status="failed").count() == 4


def test_configured_backends_run_after_a_business_action_and_never_break_it(staff, gateway, settings,
                                                                           django_capture_on_commit_callbacks):
    url, received = gateway
    settings.QUNLI_NOTIFY_BACKENDS = json.dumps([{"backend": "sms", "url": f"{url}/sms-down"},
                                                 {"backend": "wechat", "url": f"{url}/wx"}])
    with django_capture_on_commit_callbacks(execute=True):
        from django.db import transaction

        transaction.on_commit(lambda: deliver([notice(staff)]))
    assert Notification.objects.filter(recipient=staff).count() == 1
    assert not OutboundMessage.objects.exists() and received == []  # queued for the worker
    assert run_queued() == 1
    assert sorted(OutboundMessage.objects.values_list("channel", "status")) == [("sms", "failed"), ("wechat", "sent")]
    assert len(received) == 2


def test_recipients_without_contact_get_no_sms(db, gateway):
    url, received = gateway
    quiet = make_user("quiet")
    out = dispatch(deliver_now([notice(quiet)]), [HttpSmsBackend(url=f"{url}/sms"), LoggingBackend()])
    assert [(m.channel, m.to_mask) for m in out] == [("log", "")] and received == []


# --- the administrator's outbound log ---------------------------------------------------------

def test_outbound_log_is_for_the_system_administrator_with_masked_numbers(staff, accounts, client_for):
    dispatch(deliver_now([notice(staff)]), [LoggingBackend()])
    page = client_for(accounts["sysadmin"]).get("/core/outbound/").content.decode()
    assert "139****5678" in page and "13912345678" not in page
    assert client_for(accounts["auditor"]).get("/core/outbound/").status_code == 403
    assert client_for(staff).get("/core/outbound/").status_code == 403
    # administrators have no inbox (三员分立: notifications point at business data)
    assert client_for(accounts["sysadmin"]).get("/core/notifications/").status_code == 403
    assert client_for(accounts["sysadmin"]).get("/api/notifications").status_code == 403


def test_notifications_api_query_count_is_flat(staff, client_for, django_assert_max_num_queries):
    deliver_now([notice(staff, title=f"通知 {i}") for i in range(30)])
    c = client_for(staff)
    c.get("/api/notifications")
    with django_assert_max_num_queries(8):
        assert c.get("/api/notifications").json()["count"] == 30
