"""Case lifecycle defects found on the demo, each pinned by the behaviour that failed:
a closed case revived by a pending referral (and the receiver's stale deadlines, the missing
撤回), the served person shown in clear outside the case team, members who could not be
removed, junk requests that could not be dismissed, 满意度 that could not be left unrated,
and consent dated in the future."""

import datetime as dt
import json

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from qunli.casework import actions
from qunli.casework.models import Case, CaseEvent, CaseMember, Consent, Referral, ServedPerson
from qunli.casework.tests.test_casework import assigned, dv, new_case, to_follow_up
from qunli.casework.workdays import add_working_days
from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog

pytestmark = pytest.mark.django_db


def api(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def post_json(c, url, data=None):
    return c.post(url, json.dumps(data or {}), content_type="application/json")


def page(c, case) -> str:
    r = c.get(f"/casework/{case.pk}/")
    assert r.status_code == 200
    return r.content.decode()


# --- 1. a pending referral and the end of a case ---------------------------------------------------

def test_closing_is_refused_while_a_referral_is_pending(team, tree):
    case = to_follow_up(team, assigned(team, tree))
    actions.refer(team["worker"], case, to_unit=tree["union"], reason="需要职工法律援助")
    with pytest.raises(ActionError, match="本个案有待对方处理的转介，请先撤回转介或等待对方处理后再结案。"):
        actions.close_case(team["worker"], case, outcome="办结", satisfaction=5)
    case.refresh_from_db()
    assert case.status == Case.Status.FOLLOW_UP and case.closed_at is None and case.outcome == ""


def test_closing_page_shows_why_it_is_refused_while_a_referral_is_pending(team, tree, client_for):
    case = to_follow_up(team, assigned(team, tree))
    actions.refer(team["worker"], case, to_unit=tree["union"], reason="需要职工法律援助")
    r = client_for(team["worker"]).post(f"/casework/{case.pk}/close/", {"outcome": "办结", "satisfaction": "5"})
    assert r.status_code == 200 and "请先撤回转介或等待对方处理后再结案" in r.content.decode()
    assert Case.objects.get(pk=case.pk).status == Case.Status.FOLLOW_UP


def test_accepting_a_referral_of_a_closed_case_is_refused(team, tree):
    """A referral left pending on a case closed before the rule (or written around it)
    must not bring the case back to life at the receiver."""
    case = to_follow_up(team, assigned(team, tree))
    r = actions.refer(team["worker"], case, to_unit=tree["union"], reason="需要职工法律援助")
    Case.objects.filter(pk=case.pk).update(status=Case.Status.CLOSED, outcome="办结", satisfaction=5,
                                           closed_at=timezone.now())
    with pytest.raises(ActionError, match="个案已结案，不能再接收转介。"):
        actions.accept_referral(team["union"], r)
    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED and case.unit == tree["women"] and case.caseworker == team["worker"]
    assert Referral.objects.get(pk=r.pk).status == Referral.Status.PENDING
    with pytest.raises(ActionError, match="个案已结案"):
        actions.decline_referral(team["union"], r, reason="已结案")
    # the sender clears it
    assert actions.withdraw_referral(team["worker"], r).status == Referral.Status.WITHDRAWN


def test_accepted_referral_gets_fresh_time_limits_from_the_acceptance(team, tree):
    received = timezone.make_aware(dt.datetime(2025, 9, 30, 10, 0))
    case = new_case(team, tree, received_at=received)
    case = actions.assign_case(team["intake"], case, caseworker=team["worker"], supervisor=team["super"])
    assert case.is_overdue()  # long past its limits at the sender
    r = actions.refer(team["worker"], case, to_unit=tree["union"], reason="需要职工法律援助")
    case = actions.accept_referral(team["union"], r)
    today = timezone.localdate()
    assert case.acknowledge_due == add_working_days(today, dv().acknowledge_days)
    assert case.resolve_due == add_working_days(today, dv().resolve_days)
    assert not case.is_overdue() and case.acknowledged_at is None
    # the sender's limits stay on record in the change log's before-image
    row = ChangeLog.objects.filter(action="casework.accept_referral").latest("pk")
    assert row.before["resolve_due"] == str(add_working_days(dt.date(2025, 9, 30), dv().resolve_days))


def test_sender_withdraws_a_pending_referral_and_may_then_close(team, tree):
    case = to_follow_up(team, assigned(team, tree))
    r = actions.refer(team["worker"], case, to_unit=tree["union"], reason="需要职工法律援助")
    with pytest.raises(PermissionDenied):  # the receiving side decides; it does not withdraw
        actions.withdraw_referral(team["union"], r)
    r = actions.withdraw_referral(team["super"], r)
    assert r.status == Referral.Status.WITHDRAWN and r.decided_by == team["super"]
    assert not Case.objects.visible_to(team["union"]).filter(pk=case.pk).exists()
    from qunli.casework.queries import referral_inbox

    assert not referral_inbox(team["union"]).exists()
    with pytest.raises(ActionError, match="已撤回"):
        actions.accept_referral(team["union"], r)
    with pytest.raises(ActionError, match="已撤回，不能撤回"):
        actions.withdraw_referral(team["worker"], r)
    assert CaseEvent.objects.filter(case=case, step="withdraw_referral").exists()
    assert ChangeLog.objects.filter(action="casework.withdraw_referral").exists()
    case = actions.close_case(team["worker"], case, outcome="本单位办结", satisfaction=5)
    assert case.status == Case.Status.CLOSED


def test_intake_staff_withdraw_a_referral_of_an_unassigned_case(team, tree):
    case = new_case(team, tree)
    r = actions.refer(team["intake"], case, to_unit=tree["union"], reason="不属本单位职责")
    with pytest.raises(ActionError, match="待接收的转办/转介"):
        actions.assign_case(team["intake"], case, caseworker=team["worker"], supervisor=team["super"])
    actions.withdraw_referral(team["intake"], r)
    case = actions.assign_case(team["intake"], case, caseworker=team["worker"], supervisor=team["super"])
    assert case.status == Case.Status.ASSIGNED


def test_withdraw_button_on_the_case_page_for_the_sending_side_only(team, tree, client_for):
    case = assigned(team, tree)
    r = actions.refer(team["worker"], case, to_unit=tree["union"], reason="需要职工法律援助")
    url = f"/casework/referrals/{r.pk}/withdraw/"
    assert url in page(client_for(team["worker"]), case)
    assert url not in page(client_for(team["union"]), case)
    assert client_for(team["union"]).post(url).status_code == 403
    assert client_for(team["colleague"]).post(url).status_code == 404
    assert client_for(team["worker"]).get(url).status_code == 405
    resp = client_for(team["worker"]).post(url)
    assert resp.status_code == 302 and resp["Location"] == f"/casework/{case.pk}/"
    assert Referral.objects.get(pk=r.pk).status == Referral.Status.WITHDRAWN


def test_withdraw_through_the_api(team, tree):
    case = assigned(team, tree)
    r = actions.refer(team["worker"], case, to_unit=tree["union"], reason="需要职工法律援助")
    assert post_json(api(team["union"]), f"/api/casework/referrals/{r.pk}/withdraw").status_code == 403
    assert post_json(api(team["colleague"]), f"/api/casework/referrals/{r.pk}/withdraw").status_code == 404
    resp = post_json(api(team["worker"]), f"/api/casework/referrals/{r.pk}/withdraw")
    assert resp.status_code == 200 and resp.json()["status"] == "withdrawn"
    assert resp.json()["status_display"] == "已撤回"


# --- 2. the served person outside the case team ----------------------------------------------------

@pytest.fixture
def served_case(team, tree, person_factory):
    """An unassigned case about a child with guardian, school, categories and a risk flag."""
    child = person_factory(unit=tree["village_women"], name="王小明")
    case = new_case(team, tree, person=child, categories=["left_behind"])
    ServedPerson.objects.filter(pk=case.served_person_id).update(
        guardian_name="王大山", guardian_relation="父亲", school_or_employer="东风村小学", risk_flags=["abuse"])
    return Case.objects.get(pk=case.pk)


IDENTIFYING = ("王小明", "王大山", "东风村小学", "留守儿童", "遭受暴力或虐待")


def test_served_person_is_masked_for_viewers_outside_the_case_team(team, tree, served_case, client_for):
    html = page(client_for(team["intake"]), served_case)  # sees the unassigned case for intake
    assert not [s for s in IDENTIFYING if s in html]
    assert "王**" in html and "仅本案团队" in html
    # the step form is no back door to the same data
    assert "王大山" not in client_for(team["intake"]).get(f"/casework/{served_case.pk}/served/").content.decode()
    case = actions.assign_case(team["intake"], served_case, caseworker=team["worker"], supervisor=team["super"])
    actions.refer(team["worker"], case, to_unit=tree["union"], reason="需要职工法律援助")
    html = page(client_for(team["union"]), case)  # the receiver of a pending referral
    assert not [s for s in IDENTIFYING if s in html]


def test_served_person_is_shown_in_full_to_the_case_team(team, tree, served_case, client_for):
    case = actions.assign_case(team["intake"], served_case, caseworker=team["worker"], supervisor=team["super"])
    actions.add_member(team["worker"], case, user=team["member"])
    for who in ("worker", "super", "member"):
        html = page(client_for(team[who]), case)
        assert all(s in html for s in IDENTIFYING), who
        assert 'id="served-masked"' not in html


# --- 3. removing a team member ------------------------------------------------------------------------

def test_removed_member_can_no_longer_open_the_case(team, tree, client_for):
    case = assigned(team, tree)
    actions.add_member(team["worker"], case, user=team["member"])
    assert client_for(team["member"]).get(f"/casework/{case.pk}/").status_code == 200
    html = page(client_for(team["worker"]), case)
    assert f'action="/casework/{case.pk}/remove_member/"' in html and f'value="{team["member"].pk}"' in html
    resp = client_for(team["worker"]).post(f"/casework/{case.pk}/remove_member/", {"member": team["member"].pk})
    assert resp.status_code == 302
    assert not CaseMember.objects.filter(case=case).exists()
    assert client_for(team["member"]).get(f"/casework/{case.pk}/").status_code == 404
    assert api(team["member"]).get(f"/api/casework/cases/{case.pk}").status_code == 404
    assert CaseEvent.objects.filter(case=case, step="remove_member").exists()
    assert ChangeLog.objects.filter(action="casework.remove_member").exists()


def test_only_caseworker_or_supervisor_remove_and_never_themselves(team, tree, client_for):
    case = assigned(team, tree)
    actions.add_member(team["worker"], case, user=team["member"])
    assert 'remove_member' not in page(client_for(team["member"]), case)  # no button for a member
    with pytest.raises(PermissionDenied):
        actions.remove_member(team["member"], case, user=team["member"])
    for who in ("worker", "super"):
        with pytest.raises(ActionError, match="个案社工和督导不能移出"):
            actions.remove_member(team["super"], case, user=team[who])
    with pytest.raises(ActionError, match="不是本案成员"):
        actions.remove_member(team["super"], case, user=team["colleague"])
    c = client_for(team["worker"])
    resp = c.post(f"/casework/{case.pk}/remove_member/", {"member": team["super"].pk}, follow=True)
    assert "个案社工和督导不能移出" in resp.content.decode()
    assert Case.objects.get(pk=case.pk).supervisor == team["super"]
    actions.remove_member(team["super"], case, user=team["member"])
    assert not Case.objects.visible_to(team["member"]).filter(pk=case.pk).exists()


def test_members_through_the_api(team, tree):
    case = assigned(team, tree)
    url = f"/api/casework/cases/{case.pk}/members"
    resp = post_json(api(team["worker"]), url, {"user_id": team["member"].pk})
    assert resp.status_code == 201 and [m["user_id"] for m in resp.json()] == [team["member"].pk]
    assert api(team["member"]).get(url).status_code == 200
    assert api(team["member"]).delete(f"{url}/{team['member'].pk}").status_code == 403
    assert api(team["worker"]).delete(f"{url}/{team['super'].pk}").status_code == 400
    assert api(team["worker"]).delete(f"{url}/{team['member'].pk}").status_code == 204
    assert api(team["member"]).get(f"/api/casework/cases/{case.pk}").status_code == 404
    assert api(team["worker"]).get(url).json() == []


# --- 4. 不予受理 and an unrated 结案 --------------------------------------------------------------

def test_dismissed_portal_request_shows_as_not_accepted_with_the_reason(team, tree, client_for,
                                                                        django_capture_on_commit_callbacks):
    from qunli.core.notification_models import Notification, OutboundMessage
    from qunli.portal import actions as portal

    with django_capture_on_commit_callbacks(execute=True):
        case = portal.submit_request(unit=tree["women"], type=dv(), name="王小梅", phone="13912345678",
                                     description="推销保健品，加微信")
    told = (Notification.objects.count(), OutboundMessage.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        resp = client_for(team["intake"]).post(f"/casework/{case.pk}/dismiss/", {"reason": "广告推销，非本单位受理范围"})
    assert resp.status_code == 302
    case = Case.objects.get(pk=case.pk)
    assert case.status == Case.Status.CLOSED and case.outcome == "不予受理：广告推销，非本单位受理范围"
    assert case.satisfaction is None and case.closed_at is not None
    assert (Notification.objects.count(), OutboundMessage.objects.count()) == told  # nobody is told
    assert CaseEvent.objects.filter(case=case, step="dismiss").exists()
    assert ChangeLog.objects.filter(action="casework.dismiss").exists()
    result = portal.track(case.request.tracking_code, "5678")
    assert result["closed"] and result["outcome"] == "不予受理：广告推销，非本单位受理范围"
    html = Client().post("/portal/track/", {"code": case.request.tracking_code, "last4": "5678"}).content.decode()
    assert "不予受理：广告推销，非本单位受理范围" in html


def test_dismiss_only_before_service_with_a_reason_and_not_while_referred(team, tree, client_for):
    case = new_case(team, tree)
    assert "/dismiss/" in page(client_for(team["intake"]), case)
    with pytest.raises(ActionError, match="请填写不予受理理由"):
        actions.dismiss(team["intake"], case, reason=" ")
    r = actions.refer(team["intake"], case, to_unit=tree["union"], reason="不属本单位职责")
    assert "/dismiss/" not in page(client_for(team["union"]), case)  # the receiver only decides
    with pytest.raises(ActionError, match="请先撤回转介或等待对方处理后再不予受理"):
        actions.dismiss(team["intake"], case, reason="重复来电")
    actions.withdraw_referral(team["intake"], r)
    case = actions.assign_case(team["intake"], case, caseworker=team["worker"], supervisor=team["super"])
    with pytest.raises(PermissionDenied):  # assigned: the team decides, not intake
        actions.dismiss(team["intake"], case, reason="重复来电")
    case = actions.assess(team["worker"], case, note="评估")
    with pytest.raises(ActionError, match="不能不予受理"):
        actions.dismiss(team["worker"], case, reason="重复来电")


def test_dismissed_case_reopens_to_be_assessed_not_into_service(team, tree, client_for):
    case = actions.dismiss(team["worker"], assigned(team, tree), reason="重复来电")
    assert "不予受理：重复来电" in page(client_for(team["worker"]), case)
    case = actions.reopen(team["super"], case, reason="当事人再次来电说明情况")
    assert case.status == Case.Status.ASSIGNED and case.outcome == ""
    assert actions.assess(team["worker"], case, note="评估").status == Case.Status.ASSESSED


def test_closing_without_satisfaction_is_not_rated_and_left_out_of_the_average(team, tree, client_for, accounts):
    from qunli.casework.queries import dashboard

    rated = actions.close_case(team["worker"], to_follow_up(team, assigned(team, tree)), outcome="办结",
                               satisfaction=4)
    assert rated.satisfaction == 4
    unrated = actions.close_case(team["worker"], to_follow_up(team, assigned(team, tree)), outcome="办结")
    assert unrated.satisfaction is None
    case = to_follow_up(team, assigned(team, tree))
    resp = client_for(team["worker"]).post(f"/casework/{case.pk}/close/", {"outcome": "无法联系", "satisfaction": ""})
    assert resp.status_code == 302 and Case.objects.get(pk=case.pk).satisfaction is None
    assert "满意度 未评价" in page(client_for(team["worker"]), case)
    case = to_follow_up(team, assigned(team, tree))
    resp = post_json(api(team["worker"]), f"/api/casework/cases/{case.pk}/close", {"outcome": "无法联系"})
    assert resp.status_code == 200 and resp.json()["satisfaction"] is None
    stats = dashboard(accounts["party_office"])
    assert stats["on_time"]["closed"] == 4
    assert stats["satisfaction_total"] == 1 and stats["satisfaction_avg"] == 4.0


# --- 5. consent dates ------------------------------------------------------------------------------

def test_consent_dated_after_today_is_refused(team, tree, client_for, person_factory):
    case = assigned(team, tree)
    Case.objects.filter(pk=case.pk).update(
        served_person=ServedPerson.objects.create(person=person_factory(), unit=tree["women"]))
    case.refresh_from_db()
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ActionError, match="同意日期不能晚于今天。"):
        actions.add_consent(team["worker"], case, given_on=tomorrow, given_by="王大山", scope_text="转介法律援助")
    c = client_for(team["worker"])
    resp = c.post(f"/casework/{case.pk}/consent/", {"given_on": "2030-01-01", "given_by": "王大山",
                                                     "scope_text": "转介法律援助"})
    assert resp.status_code == 200 and "同意日期不能晚于今天。" in resp.content.decode()
    assert not Consent.objects.exists()
    resp = c.post(f"/casework/{case.pk}/consent/", {"given_on": timezone.localdate().isoformat(), "given_by": "王大山",
                                                     "scope_text": "转介法律援助"})
    assert resp.status_code == 302 and Consent.objects.count() == 1


def test_intake_who_dismisses_an_unassigned_request_still_sees_it_and_can_reopen_it(team, tree, client_for):
    case = actions.dismiss(team["intake"], new_case(team, tree), reason="推销广告，非求助")
    assert case.caseworker_id == team["intake"].pk
    assert client_for(team["intake"]).get(f"/casework/{case.pk}/").status_code == 200
    assert client_for(team["colleague"]).get(f"/casework/{case.pk}/").status_code == 404
    case = actions.reopen(team["intake"], case, reason="来电人补充说明确需帮助")
    assert case.status == Case.Status.ASSIGNED
