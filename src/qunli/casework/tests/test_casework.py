"""Casework: need-to-know, lifecycle, approval, referrals, time limits, encryption at rest,
query ceilings."""

import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conftest import grant, make_user
from qunli.casework import actions
from qunli.casework.models import Case, CaseEvent, Holiday, Referral, Request, RequestType
from qunli.casework.workdays import add_working_days
from qunli.core.actions import ActionError
from qunli.core.models import AccessLog, ChangeLog

pytestmark = pytest.mark.django_db


def dv():
    return RequestType.objects.get(code="domestic_violence")


def new_case(team, tree, description="丈夫多次殴打，需要庇护", phone="13800138000", **kw) -> Case:
    return actions.receive_request(team["intake"], unit=tree["women"], type=dv(), channel="12338",
                                   requester_name="李小红", requester_phone=phone, description=description, **kw)


def assigned(team, tree) -> Case:
    case = new_case(team, tree)
    return actions.assign_case(team["intake"], case, caseworker=team["worker"], supervisor=team["super"])


def to_follow_up(team, case) -> Case:
    case = actions.assess(team["worker"], case, note="评估：风险较高")
    case = actions.submit_plan(team["worker"], case, note="计划：法律咨询+心理疏导")
    case = actions.approve_plan(team["super"], case, note="同意")
    case = actions.record_service(team["worker"], case, visit_type="home", note="入户走访")
    return actions.follow_up(team["worker"], case, note="电话回访，情况稳定")


# --- need-to-know ---------------------------------------------------------------------------

def test_unassigned_case_is_visible_to_intake_staff_only_until_assigned(team, tree, accounts):
    case = new_case(team, tree)
    assert Case.objects.visible_to(team["colleague"]).filter(pk=case.pk).exists()  # intake: CHANGE grant
    assert not Case.objects.visible_to(accounts["leader"]).filter(pk=case.pk).exists()  # read-only grant
    assert not Case.objects.visible_to(accounts["union_staff"]).filter(pk=case.pk).exists()  # other line
    actions.assign_case(team["intake"], case, caseworker=team["worker"], supervisor=team["super"])
    for name in ("worker", "super"):
        assert Case.objects.visible_to(team[name]).filter(pk=case.pk).exists()
    for who in (team["colleague"], team["intake"], accounts["party_office"], accounts["leader"]):
        assert not Case.objects.visible_to(who).filter(pk=case.pk).exists()


def test_colleague_cannot_open_find_or_export_an_assigned_case(team, tree, client_for):
    case = assigned(team, tree)
    code = case.request.tracking_code
    c = client_for(team["colleague"])
    assert c.get(f"/casework/{case.pk}/").status_code == 404
    assert c.get(f"/casework/{case.pk}/assess/").status_code == 404
    assert c.post(f"/casework/{case.pk}/reveal/").status_code == 404
    for url in ("/casework/", "/casework/mine/", "/casework/supervised/", "/casework/due/", "/casework/unassigned/"):
        link = f'href="/casework/{case.pk}/"'
        assert code not in c.get(url).content.decode(), url
        assert link not in c.get(url, {"q": code}).content.decode(), url  # the search term is echoed, no row
        assert link not in c.get(url, {"q": "13800138000"}).content.decode(), url
        export = c.get(url, {"export": "xlsx", "q": code})
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(b"".join(export.streaming_content)), read_only=True)
        assert code not in [v for row in wb.active.iter_rows(values_only=True) for v in row]
    assert Request.objects.visible_to(team["colleague"]).count() == 0
    assert CaseEvent.objects.visible_to(team["colleague"]).count() == 0
    with pytest.raises(PermissionDenied):
        actions.assess(team["colleague"], case, note="x")
    # the caseworker finds it by its code and by the phone
    w = client_for(team["worker"])
    assert code in w.get("/casework/", {"q": code.lower()}).content.decode()
    assert code in w.get("/casework/mine/", {"q": "13800138000"}).content.decode()
    assert w.get(f"/casework/{case.pk}/").status_code == 200


def test_added_member_sees_the_case_and_loses_it_with_the_grant(team, tree):
    case = assigned(team, tree)
    actions.add_member(team["worker"], case, user=team["member"])
    assert Case.objects.visible_to(team["member"]).filter(pk=case.pk).exists()
    team["member"].grants.all().delete()
    from qunli.core.scoping import forget_grants

    forget_grants(team["member"])
    assert not Case.objects.visible_to(team["member"]).filter(pk=case.pk).exists()


# --- lifecycle --------------------------------------------------------------------------------

def test_full_lifecycle_with_audit_and_capture_for_the_archives(team, tree, django_capture_on_commit_callbacks):
    from qunli.records.actions import create_fonds
    from qunli.records.models import Item

    create_fonds(team["intake"], unit=tree["women"], code="F021", name="示范县妇联")
    case = assigned(team, tree)
    case = to_follow_up(team, case)
    with django_capture_on_commit_callbacks(execute=True):
        case = actions.close_case(team["worker"], case, outcome="已获人身安全保护令", satisfaction=5)
    assert case.status == Case.Status.CLOSED
    steps = list(case.events.values_list("step", flat=True))
    assert steps == ["receive", "assign", "assess", "submit_plan", "approve_plan", "service", "follow_up", "close"]
    logged = set(ChangeLog.objects.filter(action__startswith="casework.").values_list("action", flat=True))
    assert {"casework.receive_request", "casework.assign_case", "casework.assess", "casework.submit_plan",
            "casework.approve_plan", "casework.record_service", "casework.follow_up", "casework.close_case"} <= logged
    item = Item.objects.get(source_type="casework.case", source_id=str(case.pk))
    assert item.status == Item.Status.PENDING and item.title.startswith("个案 ") and item.fonds.code == "F021"
    assert item.doc_no == case.request.tracking_code and "已获人身安全保护令" in item.note
    sealed = ("李小红", "13800138000", "丈夫多次殴打", "入户走访")
    assert not any(s in f"{item.title}{item.note}{item.source_repr}" for s in sealed)
    case = actions.reopen(team["super"], case, reason="当事人再次求助")
    assert case.status == Case.Status.IN_SERVICE and case.reopen_count == 1
    case = actions.follow_up(team["worker"], case, note="再次回访")
    with django_capture_on_commit_callbacks(execute=True):
        actions.close_case(team["worker"], case, outcome="办结", satisfaction=5)
    assert Item.objects.filter(source_type="casework.case", source_id=str(case.pk)).count() == 1


def test_closing_without_a_fonds_closes_and_captures_nothing(team, tree, django_capture_on_commit_callbacks):
    from qunli.records.models import Item

    case = to_follow_up(team, assigned(team, tree))
    with django_capture_on_commit_callbacks(execute=True):
        case = actions.close_case(team["worker"], case, outcome="办结", satisfaction=4)
    assert case.status == Case.Status.CLOSED and not Item.objects.exists()


@pytest.mark.parametrize("verb,kwargs", [
    ("submit_plan", {"note": "x"}), ("record_service", {"visit_type": "phone", "note": "x"}),
    ("follow_up", {"note": "x"}), ("close_case", {"outcome": "x", "satisfaction": 5}), ("reopen", {"reason": "x"}),
])
def test_illegal_transitions_are_refused_in_chinese(team, tree, verb, kwargs):
    case = assigned(team, tree)
    with pytest.raises(ActionError, match="个案当前状态为“分派”，不能"):
        getattr(actions, verb)(team["worker"], case, **kwargs)
    assert Case.objects.get(pk=case.pk).status == Case.Status.ASSIGNED


def test_follow_up_needs_a_service_record_and_bad_satisfaction_refused(team, tree):
    case = assigned(team, tree)
    case = actions.assess(team["worker"], case, note="a")
    case = actions.submit_plan(team["worker"], case, note="p")
    case = actions.approve_plan(team["super"], case)
    with pytest.raises(ActionError, match="还没有服务记录"):
        actions.follow_up(team["worker"], case, note="x")
    case = actions.record_service(team["worker"], case, visit_type="online", note="线上辅导")
    case = actions.follow_up(team["worker"], case, note="回访")
    with pytest.raises(ActionError, match="满意度"):
        actions.close_case(team["worker"], case, outcome="x", satisfaction=9)


def test_plan_approval_is_for_the_supervisor_only(team, tree):
    case = assigned(team, tree)
    case = actions.assess(team["worker"], case, note="a")
    case = actions.submit_plan(team["worker"], case, note="p")
    with pytest.raises(PermissionDenied, match="督导"):
        actions.approve_plan(team["worker"], case)
    case = actions.approve_plan(team["super"], case, approve=False, note="补充法律援助内容")
    assert case.status == Case.Status.ASSESSED and case.plan_approved_at is None
    case = actions.submit_plan(team["worker"], case, note="p2")
    case = actions.approve_plan(team["super"], case)
    assert case.status == Case.Status.IN_SERVICE and case.plan_approved_by == team["super"]


def test_assignment_rules(team, tree, accounts):
    case = new_case(team, tree)
    with pytest.raises(ActionError, match="同一人"):
        actions.assign_case(team["intake"], case, caseworker=team["worker"], supervisor=team["worker"])
    with pytest.raises(ActionError, match="没有该单位的业务权限"):
        actions.assign_case(team["intake"], case, caseworker=accounts["union_staff"], supervisor=team["super"])
    case = actions.assign_case(team["intake"], case, caseworker=team["worker"], supervisor=team["super"])
    with pytest.raises(PermissionDenied):  # intake staff lost sight of it; only the supervisor reassigns
        actions.assign_case(team["intake"], case, caseworker=team["colleague"], supervisor=team["super"])
    case = actions.assign_case(team["super"], case, caseworker=team["colleague"], supervisor=team["super"])
    assert Case.objects.visible_to(team["colleague"]).filter(pk=case.pk).exists()
    assert not Case.objects.visible_to(team["worker"]).filter(pk=case.pk).exists()


# --- referrals --------------------------------------------------------------------------------

def test_referral_to_another_line_accepted(team, tree, accounts):
    case = assigned(team, tree)
    with pytest.raises(ActionError, match="转办只能在本条线内"):
        actions.transfer(team["worker"], case, to_unit=tree["union"], reason="x")
    r = actions.refer(team["worker"], case, to_unit=tree["union"], reason="需要职工律师服务队法律援助")
    union = accounts["union_staff"]
    assert Case.objects.visible_to(union).filter(pk=case.pk).exists()  # to decide on it
    from qunli.casework.views import inbox_queryset

    assert list(inbox_queryset(union)) == [r]
    assert list(inbox_queryset(team["colleague"])) == []
    with pytest.raises(PermissionDenied):
        actions.accept_referral(team["worker"], r)
    case = actions.accept_referral(union, r)
    assert case.unit == tree["union"] and case.status == Case.Status.RECEIVED and case.caseworker is None
    assert not Case.objects.visible_to(team["worker"]).filter(pk=case.pk).exists()
    with pytest.raises(ActionError, match="已接收"):
        actions.decline_referral(union, r, reason="x")


def test_transfer_declined_needs_a_reason(team, tree, lines):
    case = assigned(team, tree)
    other = make_user("town_women")
    grant(other, "staff", tree["town"], lines=[lines["women"]])
    with pytest.raises(ActionError, match="转介是转到其他条线"):
        actions.refer(team["worker"], case, to_unit=tree["town_women"], reason="x")
    r = actions.transfer(team["worker"], case, to_unit=tree["town_women"], reason="属地办理")
    assert r.kind == Referral.Kind.TRANSFER
    with pytest.raises(ActionError, match="拒收理由"):
        actions.decline_referral(other, r, reason=" ")
    actions.decline_referral(other, r, reason="当事人户籍不在本镇")
    r.refresh_from_db()
    assert r.status == Referral.Status.DECLINED and r.decline_reason == "当事人户籍不在本镇"
    assert Case.objects.get(pk=case.pk).unit == tree["women"]
    assert not Case.objects.visible_to(other).filter(pk=case.pk).exists()


def test_referral_inbox_page(team, tree, accounts, client_for):
    case = assigned(team, tree)
    r = actions.refer(team["worker"], case, to_unit=tree["union"], reason="法律援助")
    c = client_for(accounts["union_staff"])
    assert case.request.tracking_code in c.get("/casework/referrals/").content.decode()
    resp = c.post(f"/casework/referrals/{r.pk}/decline/", {"reason": ""})
    assert resp.status_code == 200 and "理由" in resp.content.decode()
    resp = c.post(f"/casework/referrals/{r.pk}/accept/")
    assert resp.status_code == 302
    assert Case.objects.get(pk=case.pk).unit_id == tree["union"].pk


def test_the_receiver_of_an_unassigned_case_is_offered_accept_and_decline_not_the_senders_steps(
        team, tree, accounts, client_for):
    case = new_case(team, tree)  # unassigned: the women's intake staff send it on
    r = actions.refer(accounts["women_staff"], case, to_unit=tree["union"], reason="涉及拖欠工资")
    page = client_for(accounts["union_staff"]).get(f"/casework/{case.pk}/").content.decode()
    assert f"/casework/referrals/{r.pk}/accept/" in page and f"/casework/referrals/{r.pk}/decline/" in page
    for step in ("assign", "transfer", "refer", "dismiss"):
        assert f"/casework/{case.pk}/{step}/" not in page
    sender = client_for(accounts["women_staff"]).get(f"/casework/{case.pk}/").content.decode()
    assert "/accept/" not in sender and f"/casework/referrals/{r.pk}/withdraw/" in sender
    for step in ("assign", "refer", "dismiss"):  # refused while the referral is pending: withdraw it first
        assert f"/casework/{case.pk}/{step}/" not in sender
    both = client_for(accounts["party_office"]).get(f"/casework/{case.pk}/").content.decode()
    assert f"/casework/referrals/{r.pk}/accept/" in both  # the 群团办 acts for both units: it may decide


# --- time limits -------------------------------------------------------------------------------

def test_working_days_across_the_national_day_week_and_a_make_up_day(db):
    # 2025: 10-01..10-08 off; Sunday 09-28 and Saturday 10-11 are make-up working days.
    assert Holiday.objects.filter(date=dt.date(2025, 10, 3), is_workday=False).exists()
    assert add_working_days(dt.date(2025, 9, 30), 1) == dt.date(2025, 10, 9)
    assert add_working_days(dt.date(2025, 9, 26), 1) == dt.date(2025, 9, 28)  # Friday → make-up Sunday
    assert add_working_days(dt.date(2025, 10, 9), 2) == dt.date(2025, 10, 11)  # Thu → Fri → make-up Sat
    assert add_working_days(dt.date(2025, 10, 3), 0) == dt.date(2025, 10, 9)
    assert add_working_days(dt.date(2025, 6, 6), 1) == dt.date(2025, 6, 9)  # plain weekend


def test_edited_calendar_is_used(db, accounts):
    day = dt.date(2031, 3, 4)  # a Tuesday no package lists
    assert add_working_days(dt.date(2031, 3, 3), 1) == day
    actions.set_holiday(accounts["sysadmin"], date=day, is_workday=False, name="临时放假")
    assert add_working_days(dt.date(2031, 3, 3), 1) == dt.date(2031, 3, 5)
    with pytest.raises(PermissionDenied):
        actions.set_holiday(accounts["women_staff"], date=day, is_workday=True)


def test_due_dates_overdue_and_on_time_rate(team, tree, client_for):
    received = timezone.make_aware(dt.datetime(2025, 9, 30, 10, 0))
    case = new_case(team, tree, received_at=received)
    assert case.acknowledge_due == dt.date(2025, 10, 9)
    assert case.resolve_due == add_working_days(dt.date(2025, 9, 30), dv().resolve_days)
    assert case.is_overdue()  # long past, never assigned
    w = client_for(team["intake"])
    assert case.request.tracking_code in w.get("/casework/due/", {"due": "overdue"}).content.decode()
    from qunli.casework.queries import on_time

    assert on_time(Case.objects.all())["rate"] is None


def test_sorting_by_received_time_follows_the_request_not_the_order_of_entry(team, tree, client_for):
    """A hotline call logged days later sorts by when it was received (受理时间), not by
    when it was typed in."""
    now = timezone.now()
    yesterday = new_case(team, tree, received_at=now - dt.timedelta(days=1))
    last_week = new_case(team, tree, received_at=now - dt.timedelta(days=7))  # entered after yesterday's
    today = new_case(team, tree)
    html = client_for(team["intake"]).get("/casework/", {"sort": "-created_at"}).content.decode()
    codes = [c.request.tracking_code for c in (today, yesterday, last_week)]
    assert sorted(codes, key=html.index) == codes


# --- encryption at rest ------------------------------------------------------------------------

def test_sensitive_text_is_sealed_and_reveal_is_logged(team, tree, client_for):
    case = assigned(team, tree)
    actions.assess(team["worker"], case, note="孩子身上有伤痕")
    with connection.cursor() as cur:
        cur.execute("SELECT requester_name_enc, requester_phone_enc, requester_phone_mask, description_enc "
                    "FROM casework_request WHERE id = %s", [case.request_id])
        name, phone, mask, desc = cur.fetchone()
        cur.execute("SELECT note_enc FROM casework_caseevent WHERE case_id = %s AND step = 'assess'", [case.pk])
        note = cur.fetchone()[0]
    assert name.startswith("v1:") and "李小红" not in name
    assert "13800138000" not in phone and mask == "138****8000"
    assert "殴打" not in desc and "伤痕" not in note
    page = client_for(team["worker"]).get(f"/casework/{case.pk}/").content.decode()
    assert "殴打" not in page and "13800138000" not in page and "李小红" not in page
    before = AccessLog.objects.count()
    resp = client_for(team["worker"]).post(f"/casework/{case.pk}/reveal/", {"purpose": "办理"})
    body = resp.content.decode()
    assert "殴打" in body and "13800138000" in body and "伤痕" in body
    assert AccessLog.objects.count() == before + 1
    assert "殴打" not in str(list(ChangeLog.objects.values_list("after", flat=True)))


# --- pages and query ceilings ------------------------------------------------------------------

def test_intake_form_and_step_pages(team, tree, client_for):
    c = client_for(team["intake"])
    assert c.get("/casework/intake/").status_code == 200
    resp = c.post("/casework/intake/", {"unit": tree["women"].pk, "type": dv().pk, "channel": "walk_in",
                                         "requester_name": "王芳", "requester_phone": "13900139000",
                                         "description": "工资被拖欠三个月"})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    case = Case.objects.latest("pk")
    resp = c.post(f"/casework/{case.pk}/assign/", {"caseworker": team["worker"].pk, "supervisor": team["super"].pk})
    assert resp.status_code == 302
    w = client_for(team["worker"])
    page = w.get(f"/casework/{case.pk}/").content.decode()
    assert "评估" in page and "审批服务计划" not in page
    resp = w.post(f"/casework/{case.pk}/submit_plan/", {"note": "x"})
    assert "不能提交服务计划" in resp.content.decode()


def test_query_ceilings(team, tree, client_for):
    for _ in range(12):
        case = assigned(team, tree)
        actions.assess(team["worker"], case, note="a")
    c = client_for(team["worker"])
    c.get("/casework/mine/")  # warm the session
    # the case page: 18 + 5 for the access-log row every open writes (a savepoint, the chain
    # head locked, the row, the head moved on, release) — a fixed cost, not one per event or member
    for url, ceiling in (("/casework/mine/", 12), ("/casework/", 12), ("/casework/due/", 14),
                         (f"/casework/{case.pk}/", 23)):
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(url).status_code == 200
        assert len(ctx.captured_queries) <= ceiling, (url, len(ctx.captured_queries))


def test_case_list_query_counts_stay_flat(team, tree, client_for, django_assert_max_num_queries):
    """Every case list (caseworker's, supervisor's, intake queue, due, all) runs a fixed
    number of queries whatever the number of rows: 3 cases or 15, sorted either way."""
    def make(n):
        for _ in range(n):
            case = assigned(team, tree)
            actions.add_member(team["worker"], case, user=team["member"])
        new_case(team, tree)  # one unassigned, for the intake queue

    urls = ("/casework/mine/", "/casework/supervised/", "/casework/unassigned/", "/casework/due/", "/casework/",
            "/casework/?sort=-created_at", "/casework/supervised/?sort=status")
    ceilings = {}
    make(3)
    for who in ("worker", "super", "member", "intake"):
        c = client_for(team[who])
        c.get("/casework/mine/")  # warm the session
        for url in urls:
            with CaptureQueriesContext(connection) as ctx:
                assert c.get(url).status_code == 200
            ceilings[(who, url)] = len(ctx.captured_queries)
    assert max(ceilings.values()) <= 14, ceilings
    make(12)
    for who in ("worker", "super", "member", "intake"):
        c = client_for(team[who])
        c.get("/casework/mine/")
        for url in urls:
            with django_assert_max_num_queries(ceilings[(who, url)]):  # no query per row
                assert c.get(url).status_code == 200


def test_visible_ids_equal_the_visible_cases_ids(team, tree, accounts, lines):
    """``visible_ids`` (the 全部个案 list's ids, read from the need-to-know arms alone) is
    ``visible_to`` in id order: each case once even when the user reaches it two ways (here
    the caseworker of a case transferred to a unit where they may accept it), and honouring
    the order and the limit."""
    from django.contrib.auth.models import AnonymousUser

    cases = [assigned(team, tree) for _ in range(3)]
    actions.add_member(team["worker"], cases[0], user=team["member"])
    new_case(team, tree)  # unassigned: the intake arm
    actions.transfer(team["worker"], cases[1], to_unit=tree["village_women"], reason="属地管辖")
    for user in (team["worker"], team["super"], team["member"], team["colleague"], team["intake"],
                 accounts["union_staff"], AnonymousUser()):
        expected = list(Case.objects.visible_to(user).order_by("-pk").values_list("pk", flat=True))
        assert Case.objects.visible_ids(user) == expected, user
        assert Case.objects.visible_ids(user, newest_first=False) == expected[::-1], user
    assert len(Case.objects.visible_ids(team["worker"])) == 4  # 3 assigned (one also through the transfer) + 1 new
    assert Case.objects.visible_ids(team["intake"], limit=2) == Case.objects.visible_ids(team["intake"])[:2]


def test_all_cases_page_lists_the_same_cases_with_and_without_a_filter(client_for, team, tree):
    """The unfiltered 全部个案 page takes its ids from ``visible_ids``; with a filter that
    keeps every row it goes the general way — the same rows, the same order."""
    for _ in range(3):
        assigned(team, tree)
    c = client_for(team["super"])
    plain = c.get(reverse("casework:case_list")).context["page"].object_list
    filtered = c.get(reverse("casework:case_list"), {"channel": "12338"}).context["page"].object_list
    assert [x.pk for x in plain] == [x.pk for x in filtered] == sorted((x.pk for x in plain), reverse=True)
    assert len(plain) == 3


def test_in_team_of_equals_visible_to_filtered(team, tree, accounts, lines):
    """The role lists' query (``in_team_of``) shows exactly what the need-to-know rule shows
    for that role: with cases assigned, with an added member, after the grant is gone, and
    with a pending transfer to a unit where the user may accept it."""
    from django.db.models import Q

    from qunli.casework.models import CaseMember
    from qunli.core.scoping import forget_grants

    cases = [assigned(team, tree) for _ in range(3)]
    actions.add_member(team["worker"], cases[0], user=team["member"])
    new_case(team, tree)  # unassigned
    outsider = make_user("outsider")  # supervises a case but holds no grant any more
    grant(outsider, "staff", tree["county"], lines=[lines["women"]])
    cases[1] = actions.assign_case(team["super"], cases[1], caseworker=team["worker"], supervisor=outsider)
    outsider.grants.all().delete()
    forget_grants(outsider)
    receiver = make_user("receiver")  # the county union's staff, receiving a referral
    grant(receiver, "staff", tree["county"], lines=[lines["union"]])
    actions.refer(team["worker"], cases[2], to_unit=tree["union"], reason="需要法律援助")
    cases[2].refresh_from_db()
    cases[2].supervisor = receiver  # a supervisor outside the case's unit: sees it only through the referral
    cases[2].save(update_fields=["supervisor"])

    def expected(user, role):
        qs = Case.objects.visible_to(user)
        if role == "supervisor":
            return set(qs.filter(supervisor=user).values_list("pk", flat=True))
        return set(qs.filter(Q(caseworker=user) | Q(pk__in=CaseMember.objects.filter(user=user).values("case_id")))
                   .values_list("pk", flat=True))

    for user in (team["worker"], team["super"], team["member"], team["colleague"], outsider, receiver):
        for role in ("supervisor", "worker"):
            got = set(Case.objects.in_team_of(user, role).values_list("pk", flat=True))
            assert got == expected(user, role), (user.username, role)
    assert set(Case.objects.in_team_of(receiver, "supervisor").values_list("pk", flat=True)) == {cases[2].pk}
    assert not Case.objects.in_team_of(outsider, "supervisor").exists()
