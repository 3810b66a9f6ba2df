"""What arrives from the public portal tells the owning unit's staff: a citizen's request
(channel 网上) and a donor's claim of a wish each put one inbox row in the inbox of every
staff member of the unit (``staff_of_unit`` on the unit's line) and of nobody else; a refused
or rolled-back submission tells nobody. The outbound SMS of those rows is sent by the worker's
task (``core.jobs.dispatch_notifications_task``), never inside the page, and only once."""

import json

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from conftest import grant, make_user
from qunli.casework import wish_actions as wa
from qunli.casework.models import Case, RequestType, Wish
from qunli.core.jobs import dispatch_notifications_task
from qunli.core.models import User
from qunli.core.notification_models import Notification, NotificationKind, OutboundMessage
from qunli.core.notifications import set_contact
from qunli.core.notify_backends import GENERIC_TEXT
from qunli.core.tests.gateway import serve
from qunli.core.tests.queue import run_queued
from qunli.portal import actions as portal_actions

pytestmark = pytest.mark.django_db


PHONE = "13912345678"
DONOR_PHONE = "13812345678"
CHILD = "欧阳小明"
GENEROUS = {
    "submit_ip": (1000, 3600),
    "submit_phone": (1000, 86400),
    "track_ip": (1000, 3600),
    "track_code": (1000, 86400),
    "claim_ip": (1000, 3600),
    "claim_phone": (1000, 86400),
}


@pytest.fixture
def gateway():
    with serve() as g:
        yield g


@pytest.fixture(autouse=True)
def generous(settings):
    settings.QUNLI_PORTAL_RATE_LIMITS = GENEROUS


@pytest.fixture
def people(tree, lines, accounts):
    """Two staff members of 示范县妇联 itself, and staff who must hear nothing of it: the
    county officers above it (the unit has staff of its own), a township unit's staff, the
    neighbouring county's and the union line's."""
    women = lines["women"]
    out = {}
    for name in ("own1", "own2"):
        out[name] = make_user(name)
        grant(out[name], "staff", tree["women"], lines=[women])
    out["town"] = make_user("town")
    grant(out["town"], "staff", tree["town_women"], lines=[women])
    out["neighbour"] = make_user("neighbour")
    grant(out["neighbour"], "staff", tree["other_women"], lines=[women])
    out.update({k: accounts[k] for k in ("women_staff", "party_office", "union_staff", "leader", "clerk")})
    return out


def recipients(kind) -> list[str]:
    return sorted(Notification.objects.filter(kind=kind).values_list("recipient__username", flat=True))


def submit(client, unit, **over):
    data = {
        "unit": unit.pk,
        "type": RequestType.objects.get(code="domestic_violence").pk,
        "name": "王小梅",
        "phone": PHONE,
        "description": "丈夫长期打骂，想咨询怎么申请人身安全保护令。",
        "consent": "on",
        "website": "",
    }
    data.update(over)
    return client.post(reverse("portal:submit"), data)


# --- a citizen's request -------------------------------------------------------------------------


def test_portal_request_tells_each_staff_member_of_the_unit_once(
    client, tree, people, client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = submit(client, tree["women"])
    assert r.status_code == 302
    case = Case.objects.get()
    assert recipients("new_request") == ["own1", "own2"]  # one row each, nobody else
    n = Notification.objects.filter(recipient=people["own1"]).get()
    assert n.url == f"/casework/{case.pk}/" and case.request.tracking_code in n.title
    for private in ("王小梅", PHONE, "5678", "保护令"):
        assert private not in n.title
    assert User.objects.get(pk=people["own1"].pk).unread_notifications == 1
    # the bell shows it, and the link opens the case (new, unassigned: intake may see it)
    page = client_for(people["own1"]).get("/core/notifications/").content.decode()
    assert "data-unread>1<" in page and case.request.tracking_code in page
    assert client_for(people["own1"]).get(n.url).status_code == 200


def test_without_staff_of_its_own_the_units_line_officers_are_told(
    client, tree, people, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert submit(client, tree["union"]).status_code == 302
    # 示范县总工会 has no staff of its own: the county's staff on the union line (or on all
    # lines); not the women's line, not the read-only leader, not a village clerk
    assert recipients("new_request") == ["gonghui", "qunban"]


def test_refused_or_rolled_back_submissions_tell_nobody(
    client, tree, people, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r = submit(client, tree["women"], phone="12345")
        assert r.status_code == 200 and "请填写11位手机号码" in r.content.decode()
        with pytest.raises(RuntimeError), transaction.atomic():
            portal_actions.submit_request(
                unit=tree["women"],
                type=RequestType.objects.get(code="domestic_violence"),
                name="王小梅",
                phone=PHONE,
                description="诉求",
            )
            raise RuntimeError("the surrounding work failed")
    assert callbacks == [] and not Notification.objects.exists() and not Case.objects.exists()


# --- a donor's claim -------------------------------------------------------------------------------


@pytest.fixture
def wish(tree, people, person_factory) -> Wish:
    staff = people["party_office"]
    w = wa.collect_wish(
        staff,
        served=person_factory(unit=tree["village_women"], name=CHILD),
        unit=tree["women"],
        category="school",
        text="想要一套新的课外书",
        amount="120",
    )
    wa.approve_wish(people["women_staff"], w)  # four-eyes: not the registrant
    return wa.publish_wish(staff, w)


def claim(client, wish, **over):
    data = {"name": "李爱心", "phone": DONOR_PHONE, "org": "县实验中学", "consent": "on", "website": ""}
    data.update(over)
    return client.post(reverse("portal:wish_claim", args=[wish.pk]), data)


def test_claim_tells_each_staff_member_of_the_wish_unit_once(
    client, wish, people, client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert claim(client, wish).status_code == 302
    assert Wish.objects.get(pk=wish.pk).status == Wish.Status.CLAIMED
    assert recipients("wish_claimed") == ["own1", "own2"]
    n = Notification.objects.get(recipient=people["own2"])
    assert n.url == reverse("casework:wish_detail", args=[wish.pk]) and f"#{wish.pk}" in n.title
    for private in ("李爱心", DONOR_PHONE, "5678", "县实验中学", CHILD, "欧"):
        assert private not in n.title
    assert client_for(people["own2"]).get(n.url).status_code == 200


def test_refused_claims_tell_nobody(client, wish, people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert claim(client, wish, phone="12345").status_code == 200  # bad input
        assert claim(client, wish).status_code == 302
        assert claim(Client(), wish, name="王二", phone="13900000000").status_code == 200  # already claimed
    assert Notification.objects.filter(kind="wish_claimed").count() == 2  # the one claim that went through


# --- outbound: by the worker, after the page --------------------------------------------------------


def test_page_answers_before_any_sms_and_the_worker_sends_each_once(
    client, tree, people, gateway, settings, django_capture_on_commit_callbacks
):
    url, received = gateway
    settings.QUNLI_NOTIFY_BACKENDS = json.dumps(
        [{"backend": "sms", "url": f"{url}/sms"}, {"backend": "logging"}]
    )
    set_contact(people["own1"], phone="13700001111", sms_enabled=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert submit(client, tree["women"]).status_code == 302
    # the page has answered: the inbox rows are there, the gateway has heard nothing, and
    # the queue holds one dispatch task carrying exactly those rows' ids
    rows = sorted(Notification.objects.filter(kind="new_request").values_list("pk", flat=True))
    assert len(rows) == 2 and received == [] and not OutboundMessage.objects.exists()
    task = DBTaskResult.objects.get()
    assert task.task_path == "qunli.core.jobs.dispatch_notifications_task"
    assert sorted(task.args_kwargs["args"][0]) == rows and task.status == "READY"

    assert run_queued() == 1
    assert [m["body"]["phone"] for m in received] == ["13700001111"]
    assert received[0]["body"]["text"] == GENERIC_TEXT[NotificationKind.NEW_REQUEST]
    sent = list(OutboundMessage.objects.values_list("notification_id", "backend", "status"))
    assert sorted(sent) == sorted(
        [(rows[0], "sms", "sent"), (rows[0], "logging", "logged"), (rows[1], "logging", "logged")]
    )
    assert not Notification.objects.filter(pk__in=rows, dispatched_at__isnull=True).exists()

    # the same task delivered again (a retry, a redelivery): nothing is sent twice
    dispatch_notifications_task.enqueue(rows)
    assert run_queued() == 1
    assert len(received) == 1 and OutboundMessage.objects.count() == 3


def test_generic_texts_of_the_arrival_kinds_carry_no_personal_data():
    for kind in (NotificationKind.NEW_REQUEST, NotificationKind.WISH_CLAIMED):
        text = GENERIC_TEXT[kind]
        assert "请登录群力" in text and len(text) < 40
        assert not any(ch.isdigit() for ch in text)
