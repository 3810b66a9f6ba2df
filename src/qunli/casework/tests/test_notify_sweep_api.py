"""Notifications from casework actions (after commit only), the due-date sweep across
holidays and make-up working days (idempotent), the escalated list, and the casework API's
need-to-know."""

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from conftest import grant, make_user
from qunli.casework import actions
from qunli.casework.escalation import CaseEscalation, sweep_due
from qunli.casework.models import Case, Holiday, Referral, RequestType
from qunli.core.models import User
from qunli.core.notification_models import Notification, OutboundMessage
from qunli.core.tests.queue import run_queued

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(tree, lines, accounts):
    out = {}
    for name in ("worker", "super", "colleague"):
        u = make_user(name)
        grant(u, "staff", tree["county"], lines=[lines["women"]])
        out[name] = u
    town = make_user("town_staff")
    grant(town, "staff", tree["town_women"], lines=[lines["women"]])
    out["town"] = town
    out["intake"] = accounts["women_staff"]
    return out


def new_case(team, tree, phone="13800138000") -> Case:
    return actions.receive_request(team["intake"], unit=tree["women"], type=RequestType.objects.get(
        code="domestic_violence"), channel="12338", requester_name="李小红", requester_phone=phone,
        description="丈夫多次殴打，需要庇护")


def assign(team, case) -> Case:
    return actions.assign_case(team["intake"], case, caseworker=team["worker"], supervisor=team["super"])


def unread(user) -> int:
    return User.objects.get(pk=user.pk).unread_notifications


# --- emitted by the actions, after commit only ----------------------------------------------------

def test_assignment_notifies_caseworker_and_supervisor_after_commit(team, tree, django_capture_on_commit_callbacks):
    case = new_case(team, tree)
    with django_capture_on_commit_callbacks(execute=True):
        assign(team, case)
    for who in ("worker", "super"):
        n = Notification.objects.get(recipient=team[who])
        assert n.kind == "assigned" and case.request.tracking_code in n.title
        assert n.url == f"/casework/{case.pk}/"
        assert unread(team[who]) == 1
    assert not Notification.objects.filter(recipient=team["intake"]).exists()  # not told about one's own act
    assert "李小红" not in "".join(Notification.objects.values_list("title", flat=True))  # no personal data
    # the worker's task had the logging backend record one generic message per notification
    assert not OutboundMessage.objects.exists()
    run_queued()
    assert OutboundMessage.objects.filter(channel="log", status="logged").count() == 2


def test_rolled_back_action_notifies_nobody(team, tree, django_capture_on_commit_callbacks):
    case = new_case(team, tree)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            assign(team, case)
            raise RuntimeError("the surrounding work failed")
    assert callbacks == []
    assert not Notification.objects.exists() and not OutboundMessage.objects.exists()
    assert unread(team["worker"]) == 0
    assert Case.objects.get(pk=case.pk).caseworker_id is None


def test_refused_action_notifies_nobody(team, tree, django_capture_on_commit_callbacks):
    from qunli.core.actions import ActionError

    case = new_case(team, tree)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ActionError):
        actions.assign_case(team["intake"], case, caseworker=team["worker"], supervisor=team["worker"])
    assert not Notification.objects.exists()


def test_plan_steps_and_referrals_notify_the_right_people(team, tree, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = assign(team, new_case(team, tree))
        case = actions.assess(team["worker"], case, note="评估")
        case = actions.submit_plan(team["worker"], case, note="计划")
        actions.approve_plan(team["super"], case, approve=False, note="请补充")
    kinds = lambda who: sorted(Notification.objects.filter(recipient=team[who]).values_list("kind", flat=True))  # noqa: E731
    assert kinds("super") == ["assigned", "plan_submitted"]
    assert kinds("worker") == ["assigned", "plan_returned"]
    with django_capture_on_commit_callbacks(execute=True):
        r = actions.transfer(team["worker"], Case.objects.get(pk=case.pk), to_unit=tree["town_women"], reason="属地办理")
    # the receiving unit's own staff, not every officer above it
    assert kinds("town") == ["referral_received"]
    assert kinds("colleague") == []
    with django_capture_on_commit_callbacks(execute=True):
        actions.decline_referral(team["town"], r, reason="不属本镇")
    assert "referral_declined" in kinds("worker") and "referral_declined" in kinds("super")
    with django_capture_on_commit_callbacks(execute=True):
        r = actions.transfer(team["worker"], Case.objects.get(pk=case.pk), to_unit=tree["town_women"], reason="再转")
        actions.accept_referral(team["town"], r)
    accepted = Notification.objects.get(recipient=team["worker"], kind="referral_accepted")
    assert accepted.url == ""  # the sender no longer sees the case: no link


# --- the inbox: links only to what the reader may still open ------------------------------------

def test_inbox_hides_the_link_of_a_case_reassigned_away(team, tree, client_for, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = assign(team, new_case(team, tree))
    c = client_for(team["worker"])
    page = c.get("/core/notifications/").content.decode()
    assert case.request.tracking_code in page and 'name="open"' in page
    n = Notification.objects.get(recipient=team["worker"])
    r = c.post(f"/core/notifications/{n.pk}/read/", {"open": "1"})
    assert r.status_code == 302 and r["Location"] == f"/casework/{case.pk}/"
    assert unread(team["worker"]) == 0
    with django_capture_on_commit_callbacks(execute=True):
        actions.assign_case(team["super"], case, caseworker=team["colleague"], supervisor=team["super"])
    c = client_for(team["worker"])
    page = c.get("/core/notifications/").content.decode()
    assert 'name="open"' not in page  # the case left the worker's need-to-know
    assert c.get(f"/casework/{case.pk}/").status_code == 404
    r = c.post(f"/core/notifications/{n.pk}/read/", {"open": "1"})
    assert r["Location"] == "/core/notifications/"


# --- the due-date sweep ---------------------------------------------------------------------------

FRI = dt.date(2030, 9, 6)  # a Friday; the week after it is a holiday week, its Saturday a make-up day


@pytest.fixture
def calendar(db):
    Holiday.objects.filter(date__gte=FRI - dt.timedelta(days=40), date__lte=FRI + dt.timedelta(days=60)).delete()
    for i in range(3, 8):  # Mon–Fri after FRI
        Holiday.objects.create(date=FRI + dt.timedelta(days=i), is_workday=False, name="假期")
    Holiday.objects.create(date=FRI + dt.timedelta(days=8), is_workday=True, name="调休上班")  # Saturday


def case_due(team, tree, due: dt.date, phone: str) -> Case:
    case = assign(team, new_case(team, tree, phone=phone))
    Case.objects.filter(pk=case.pk).update(resolve_due=due)
    return case


def test_sweep_counts_working_days_across_holidays_and_make_up_days(team, tree, calendar):
    due_fri = case_due(team, tree, FRI, "13800138001")
    due_makeup = case_due(team, tree, FRI + dt.timedelta(days=8), "13800138002")  # the make-up Saturday
    due_later = case_due(team, tree, FRI + dt.timedelta(days=11), "13800138003")  # Tuesday after
    Notification.objects.all().delete()
    # Thursday: the next three working days are Fri, the make-up Sat and the Monday after
    result = sweep_due(FRI - dt.timedelta(days=1))
    soon = set(Notification.objects.filter(kind="due_soon").values_list("obj_id", flat=True))
    assert soon == {str(due_fri.pk), str(due_makeup.pk)}
    assert result["due_soon"] == 2 and str(due_later.pk) not in soon


def test_sweep_escalates_only_after_a_missed_working_day_and_is_idempotent(team, tree, calendar):
    case = case_due(team, tree, FRI, "13800138004")
    Notification.objects.all().delete()
    holiday_monday = FRI + dt.timedelta(days=3)
    first = sweep_due(holiday_monday)
    assert first["overdue"] == 1 and first["escalated"] == 0  # overdue, but no working day missed yet
    assert not CaseEscalation.objects.exists()
    again = sweep_due(holiday_monday)
    assert again["notified"] == 0 and Notification.objects.filter(kind="overdue").count() == 1
    makeup_saturday = FRI + dt.timedelta(days=8)
    third = sweep_due(makeup_saturday)
    assert third["escalated"] == 1
    esc = CaseEscalation.objects.get()
    assert (esc.case_id, esc.due_date, esc.supervisor_id) == (case.pk, FRI, team["super"].pk)
    assert Notification.objects.get(kind="escalated").recipient_id == team["super"].pk
    before = (Notification.objects.count(), unread(team["super"]), unread(team["worker"]))
    fourth = sweep_due(makeup_saturday + dt.timedelta(days=2))
    assert fourth == {**fourth, "escalated": 0, "notified": 0}
    assert CaseEscalation.objects.count() == 1
    assert (Notification.objects.count(), unread(team["super"]), unread(team["worker"])) == before


def test_sweep_query_count_does_not_grow_with_cases(team, tree, calendar, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def run(n_cases: int, day: dt.date) -> int:
        for i in range(n_cases):
            case_due(team, tree, day - dt.timedelta(days=20), f"138{day.day:02d}{n_cases:02d}{i:04d}")
        with CaptureQueriesContext(connection) as ctx:
            result = sweep_due(day)
        assert result["escalated"] == n_cases
        return len(ctx)

    few = run(1, FRI + dt.timedelta(days=8))
    many = run(8, FRI + dt.timedelta(days=10))
    assert few == many
    with django_assert_max_num_queries(16):
        sweep_due(FRI + dt.timedelta(days=11))


def test_sweep_command_prints_json(team, tree, calendar, capsys):
    case_due(team, tree, FRI, "13800138005")
    call_command("sweep_due", "--date", (FRI + dt.timedelta(days=10)).isoformat(), "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["escalated"] == 1 and out["overdue"] == 1


def test_escalated_list_is_need_to_know(team, tree, client_for, django_assert_max_num_queries):
    case = case_due(team, tree, timezone.localdate() - dt.timedelta(days=30), "13800138006")
    sweep_due()
    c = client_for(team["super"])
    with django_assert_max_num_queries(12):
        page = c.get("/casework/escalated/").content.decode()
    assert case.request.tracking_code in page
    assert "已上报督导" in c.get(f"/casework/{case.pk}/").content.decode()
    c = client_for(team["colleague"])
    assert case.request.tracking_code not in c.get("/casework/escalated/").content.decode()


# --- the casework API -----------------------------------------------------------------------------

def test_api_need_to_know_colleague_gets_404(team, tree, client_for):
    case = assign(team, new_case(team, tree))
    c = client_for(team["colleague"])
    for url in (f"/api/casework/cases/{case.pk}", f"/api/casework/cases/{case.pk}/events"):
        assert c.get(url).status_code == 404
    assert c.post(f"/api/casework/cases/{case.pk}/steps", {"step": "assess", "note": "x"},
                  content_type="application/json").status_code == 404
    assert c.get("/api/casework/cases").json()["count"] == 0
    assert c.get("/api/casework/cases", {"q": case.request.tracking_code}).json()["count"] == 0
    c = client_for(team["worker"])
    body = c.get(f"/api/casework/cases/{case.pk}").json()
    assert body["requester"] == "李**" and body["requester_phone"] == "138****8000"
    assert "13800138000" not in json.dumps(body) and "李小红" not in json.dumps(body, ensure_ascii=False)


def test_api_case_lifecycle_through_the_actions(team, tree, client_for, django_capture_on_commit_callbacks):
    c = client_for(team["intake"])
    r = c.post("/api/casework/cases", {"unit_id": tree["women"].pk, "type": "domestic_violence", "channel": "12338",
                                       "requester_name": "王芳", "requester_phone": "13900001111",
                                       "description": "拖欠工资"}, content_type="application/json")
    assert r.status_code == 201, r.content
    pk = r.json()["id"]
    bad = c.post(f"/api/casework/cases/{pk}/assign", {"caseworker_id": team["worker"].pk,
                                                      "supervisor_id": team["worker"].pk},
                 content_type="application/json")
    assert bad.status_code == 400 and "不能是同一人" in bad.json()["detail"][0]
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(f"/api/casework/cases/{pk}/assign", {"caseworker_id": team["worker"].pk,
                                                        "supervisor_id": team["super"].pk},
                   content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "assigned"
    assert Notification.objects.filter(recipient=team["worker"], kind="assigned").exists()
    w, s = client_for(team["worker"]), None
    for step in ({"step": "assess", "note": "评估"}, {"step": "submit_plan", "note": "计划"}):
        assert w.post(f"/api/casework/cases/{pk}/steps", step, content_type="application/json").status_code == 200
    s = client_for(team["super"])
    assert s.post(f"/api/casework/cases/{pk}/steps", {"step": "approve_plan"},
                  content_type="application/json").json()["status"] == "in_service"
    w = client_for(team["worker"])
    assert w.post(f"/api/casework/cases/{pk}/steps", {"step": "service", "visit_type": "home", "note": "入户"},
                  content_type="application/json").status_code == 200
    assert w.post(f"/api/casework/cases/{pk}/steps", {"step": "follow_up", "note": "回访"},
                  content_type="application/json").status_code == 200
    r = w.post(f"/api/casework/cases/{pk}/close", {"outcome": "已解决", "satisfaction": 5},
               content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "closed"
    events = [e["step"] for e in w.get(f"/api/casework/cases/{pk}/events").json()]
    assert events == ["receive", "assign", "assess", "submit_plan", "approve_plan", "service", "follow_up", "close"]
    assert "note" not in w.get(f"/api/casework/cases/{pk}/events").json()[0]


def test_api_assign_does_not_echo_a_foreign_account(team, tree, client_for):
    outsider = make_user("waixian_staff")
    outsider.display_name = "邻县某人"
    outsider.save()
    grant(outsider, "staff", tree["other_women"])
    case = new_case(team, tree)
    r = client_for(team["intake"]).post(f"/api/casework/cases/{case.pk}/assign",
                                        {"caseworker_id": outsider.pk, "supervisor_id": team["super"].pk},
                                        content_type="application/json")
    assert r.status_code == 400 and "邻县" not in r.content.decode()


def test_unassigned_case_past_its_acknowledge_limit_tells_the_intake_staff_once(team, tree, accounts, calendar):
    case = new_case(team, tree)
    Case.objects.filter(pk=case.pk).update(acknowledge_due=FRI)
    sweep_due(FRI + dt.timedelta(days=1))
    told = set(Notification.objects.filter(kind="overdue", obj_id=str(case.pk)).values_list("recipient_id", flat=True))
    # the county's women's-line staff (the nearest level with staff), all lines' 群团办 too; not the union
    assert {team["intake"].pk, accounts["party_office"].pk} <= told
    assert accounts["union_staff"].pk not in told and team["town"].pk not in told
    assert sweep_due(FRI + dt.timedelta(days=2))["notified"] == 0
    assert not CaseEscalation.objects.exists()  # the holiday week: no working day missed yet


def late_unassigned(accounts, tree, unit_key, who, phone) -> Case:
    case = actions.receive_request(accounts[who], unit=tree[unit_key], type=RequestType.objects.get(
        code="domestic_violence"), channel="12338", requester_name="李小红", requester_phone=phone,
        description="丈夫多次殴打，需要庇护")
    Case.objects.filter(pk=case.pk).update(acknowledge_due=FRI)
    return case


def escalated_to(case) -> dict[int, str]:
    return dict(Notification.objects.filter(kind="escalated", obj_id=str(case.pk)).values_list("recipient_id", "url"))


def test_case_left_unassigned_a_working_day_is_escalated_to_the_staff_above(team, tree, accounts, calendar,
                                                                             client_for):
    case = late_unassigned(accounts, tree, "village_women", "clerk", "13800138101")
    reminded = sweep_due(FRI + dt.timedelta(days=8))  # the make-up Saturday: the first working day late
    assert reminded["unassigned_late"] == 1 and reminded["escalated"] == 0  # the unit is reminded first
    first = sweep_due(FRI + dt.timedelta(days=10))  # Monday: a whole working day after the reminder
    assert first["escalated"] == 1
    esc = CaseEscalation.objects.get()
    assert (esc.case_id, esc.stage, esc.due_date) == (case.pk, "acknowledge", FRI)
    told = escalated_to(case)
    # the county's women's-line staff and the 群团办 over the village clerk; not the clerk who left it
    assert {team["intake"].pk, accounts["party_office"].pk} <= set(told)
    assert accounts["clerk"].pk not in told and accounts["union_staff"].pk not in told
    assert set(told.values()) == {f"/casework/{case.pk}/"}
    c = client_for(team["intake"])
    assert "已上报" not in c.get(f"/casework/{case.pk}/").content.decode()  # FRI is years ahead of today
    months_ago = timezone.localdate() - dt.timedelta(days=60)  # the page asks about today: the limit moves back
    Case.objects.filter(pk=case.pk).update(acknowledge_due=months_ago)
    CaseEscalation.objects.update(due_date=months_ago)
    assert "超期未分派，已上报上级" in c.get(f"/casework/{case.pk}/").content.decode()
    assert case.request.tracking_code in c.get("/casework/escalated/").content.decode()
    assert sweep_due(FRI + dt.timedelta(days=11))["escalated"] == 0
    assert CaseEscalation.objects.count() == 1
    assert case.request.tracking_code in c.get("/casework/escalated/", {"stage": "acknowledge"}).content.decode()
    assert case.request.tracking_code not in c.get("/casework/escalated/", {"stage": "resolve"}).content.decode()


def test_case_left_unassigned_at_the_top_goes_to_the_leaders_without_a_link(team, tree, accounts, calendar,
                                                                            client_for):
    case = late_unassigned(accounts, tree, "women", "women_staff", "13800138102")  # nobody sits above the county
    sweep_due(FRI + dt.timedelta(days=10))
    assert escalated_to(case) == {accounts["leader"].pk: ""}
    assert client_for(accounts["leader"]).get(f"/casework/{case.pk}/").status_code == 404  # need-to-know holds


def test_referral_left_undecided_reminds_the_receivers_then_escalates(team, tree, accounts, calendar,
                                                                      client_for, django_capture_on_commit_callbacks):
    from qunli.casework.workdays import add_working_days

    case = assign(team, new_case(team, tree, phone="13800138103"))
    r = actions.transfer(team["worker"], case, to_unit=tree["town_women"], reason="属地办理")
    assert r.decide_due == add_working_days(timezone.localdate(), case.request.type.acknowledge_days)
    Referral.objects.filter(pk=r.pk).update(decide_due=FRI)
    Case.objects.filter(pk=case.pk).update(resolve_due=FRI + dt.timedelta(days=30))  # late on the referral alone
    Notification.objects.all().delete()
    saturday = sweep_due(FRI + dt.timedelta(days=1))
    assert saturday["referrals_late"] == 1 and saturday["escalated"] == 0
    reminder = Notification.objects.get(kind="overdue", obj_id=str(case.pk))
    assert (reminder.recipient_id, reminder.url) == (team["town"].pk, "/casework/referrals/")
    assert "已超时" not in client_for(team["town"]).get("/casework/referrals/").content.decode()  # not late today
    assert sweep_due(FRI + dt.timedelta(days=8))["escalated"] == 0  # the first working day late: reminded only
    sweep_due(FRI + dt.timedelta(days=10))
    assert CaseEscalation.objects.get().stage == "referral"
    told = escalated_to(case)
    assert {team["intake"].pk, accounts["party_office"].pk, team["worker"].pk} <= set(told)
    assert team["town"].pk not in told
    to_sender = Notification.objects.get(kind="escalated", recipient=team["worker"])
    assert "可撤回后另行转出" in to_sender.title  # told once, as the sender
    months_ago = timezone.localdate() - dt.timedelta(days=60)  # the page asks about today: the limit moves back
    Referral.objects.filter(pk=r.pk).update(decide_due=months_ago)
    CaseEscalation.objects.update(due_date=months_ago)
    page = client_for(team["town"]).get(f"/casework/{case.pk}/").content.decode()
    assert "超期未接收，已上报上级" in page and "已超时" in page
    Referral.objects.filter(pk=r.pk).update(decide_due=FRI)
    CaseEscalation.objects.update(due_date=FRI)
    town = client_for(team["town"])
    assert case.request.tracking_code in town.get("/casework/escalated/").content.decode()
    actions.accept_referral(team["town"], r)
    # the town's own limits run from the acceptance (on the sweep's calendar: years ahead)
    Case.objects.filter(pk=case.pk).update(acknowledge_due=FRI + dt.timedelta(days=30),
                                           resolve_due=FRI + dt.timedelta(days=60))
    assert sweep_due(FRI + dt.timedelta(days=11))["referrals_late"] == 0
    # settled by the acceptance: off the default list (the town did not miss anything), kept under 全部
    assert case.request.tracking_code not in town.get("/casework/escalated/").content.decode()
    assert case.request.tracking_code in town.get("/casework/escalated/", {"all": "1"}).content.decode()


def test_sweep_query_count_does_not_grow_with_late_referrals_and_unassigned_cases(team, tree, accounts, calendar):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def run(n: int, day: dt.date) -> int:
        for i in range(n):
            late_unassigned(accounts, tree, "village_women", "clerk", f"1371{n:02d}{i:05d}")
            case = assign(team, new_case(team, tree, phone=f"1372{n:02d}{i:05d}"))
            r = actions.transfer(team["worker"], case, to_unit=tree["town_women"], reason="属地办理")
            Referral.objects.filter(pk=r.pk).update(decide_due=FRI)
            Case.objects.filter(pk=case.pk).update(resolve_due=day + dt.timedelta(days=30))
        with CaptureQueriesContext(connection) as ctx:
            result = sweep_due(day)
        assert result["escalated"] == 2 * n
        return len(ctx)

    assert run(1, FRI + dt.timedelta(days=10)) == run(6, FRI + dt.timedelta(days=11))


def test_api_case_list_query_count_is_flat(team, tree, client_for, django_assert_max_num_queries):
    for i in range(6):
        assign(team, new_case(team, tree, phone=f"1390000{i:04d}"))
    c = client_for(team["worker"])
    c.get("/api/casework/cases")  # warm the session
    with django_assert_max_num_queries(9):  # session, account, grants (2), count, page: not per row
        body = c.get("/api/casework/cases", {"role": "caseworker"}).json()
    assert body["count"] == 6 and all(item["requester_phone"].startswith("139****") for item in body["items"])


def test_withdrawn_referral_tells_the_receiving_staff_without_a_link(team, tree, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = actions.assign_case(team["intake"], new_case(team, tree), caseworker=team["worker"],
                                   supervisor=team["super"])
        r = actions.transfer(team["worker"], case, to_unit=tree["town_women"], reason="属地办理")
    with django_capture_on_commit_callbacks(execute=True):
        actions.withdraw_referral(team["worker"], r)
    notice = Notification.objects.get(recipient=team["town"], kind="referral_withdrawn")
    assert "已撤回" in notice.title and notice.url == ""
    assert not Notification.objects.filter(recipient=team["worker"], kind="referral_withdrawn").exists()
