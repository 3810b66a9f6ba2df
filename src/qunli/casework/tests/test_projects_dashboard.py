"""The practical-projects list (我为群众办实事): its verbs and refusals, the overdue flag, the
public page (published only); and the casework dashboard: every figure equal to a recount
over the selected subtree, counts only (no case identity or link), line- and county-scoped,
with a query-count ceiling."""

import datetime as dt
import re
from collections import Counter
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qunli.casework import actions as casework
from qunli.casework import pairing_actions as pa
from qunli.casework import queries
from qunli.casework import wish_actions as wa
from qunli.casework.models import Case, PracticalProject, RequestType, Wish
from qunli.casework.pairing_views import target_progress
from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog
from qunli.people.models import VolunteerProfile
from qunli.portal import actions as portal_actions

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
P = PracticalProject.Status


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path)}}}


@pytest.fixture
def staff(accounts):
    return accounts["party_office"]


def project(staff, unit, title="为留守儿童建设“四点半课堂”", deadline=None) -> PracticalProject:
    return wa.create_project(staff, unit=unit, title=title, description="在东风村建设课后托管课堂",
                             deadline=deadline or TODAY + dt.timedelta(days=30))


# --- practical projects ----------------------------------------------------------------------------

def test_project_lifecycle_and_refusals(staff, accounts, tree):
    p = project(staff, tree["women"])
    assert p.status == P.PLANNED and not p.is_published
    with pytest.raises(PermissionDenied):
        wa.set_project_status(accounts["leader"], p, status=P.IN_PROGRESS)
    with pytest.raises(ActionError, match="完成情况"):
        wa.set_project_status(staff, p, status=P.COMPLETED)
    p = wa.set_project_status(staff, p, status=P.IN_PROGRESS)
    new_deadline = TODAY + dt.timedelta(days=90)
    p = wa.set_project_status(staff, p, status=P.DELAYED, deadline=new_deadline)
    assert p.deadline == new_deadline
    with pytest.raises(ActionError, match="请填写完成情况"):
        wa.complete_project(staff, p, result="")
    p = wa.complete_project(staff, p, result="课堂已开班，38名儿童参加")
    assert p.status == P.COMPLETED and p.completed_at is not None
    with pytest.raises(ActionError, match="不能从“已完成”改为"):
        wa.set_project_status(staff, p, status=P.IN_PROGRESS)
    with pytest.raises(ActionError, match="已完成"):
        wa.complete_project(staff, p, result="again")
    p = wa.publish_project(staff, p)
    with pytest.raises(ActionError, match="已公开"):
        wa.publish_project(staff, p)
    actions = list(ChangeLog.objects.filter(object_type="casework.practicalproject").order_by("seq")
                   .values_list("action", flat=True))
    assert actions == ["casework.create_project", "casework.set_project_status", "casework.set_project_status",
                       "casework.complete_project", "casework.publish_project"]


def test_project_bad_input(staff, tree):
    with pytest.raises(ActionError, match="请填写项目名称"):
        wa.create_project(staff, unit=tree["women"], title=" ", description="x", deadline=TODAY)
    with pytest.raises(ActionError, match="请填写完成时限"):
        wa.create_project(staff, unit=tree["women"], title="t", description="x", deadline=None)
    assert not PracticalProject.objects.exists()


def passed(p, deadline) -> PracticalProject:
    """A project set up earlier whose deadline has passed since (creation refuses a past one)."""
    PracticalProject.objects.filter(pk=p.pk).update(deadline=deadline)
    return PracticalProject.objects.get(pk=p.pk)


def test_overdue_flag_in_list_and_portal(client_for, staff, tree):
    late = passed(project(staff, tree["women"], title="逾期项目"), TODAY - dt.timedelta(days=1))
    ontime = project(staff, tree["women"], title="按期项目")
    done_late = wa.complete_project(staff, passed(project(staff, tree["women"], title="已完成项目"),
                                                  TODAY - dt.timedelta(days=5)), result="完成")
    assert late.is_overdue() and not ontime.is_overdue() and not done_late.is_overdue()
    page = client_for(staff).get(reverse("casework:project_list"), {"overdue": "1"}).content.decode()
    assert "逾期项目" in page and "按期项目" not in page and "已完成项目" not in page
    detail = client_for(staff).get(reverse("casework:project_detail", args=[late.pk])).content.decode()
    assert 'data-overdue="1"' in detail
    for p in (late, ontime, done_late):
        wa.publish_project(staff, p)
    public = Client().get(reverse("portal:projects")).content.decode()
    assert public.count("已逾期") == 1 and "课后托管课堂" in public and "完成情况" in public


def test_portal_projects_published_only(client, staff, tree):
    project(staff, tree["women"], title="未公开项目")
    shown = wa.publish_project(staff, project(staff, tree["women"], title="公开项目"))
    withdrawn = wa.publish_project(staff, wa.publish_project(staff, project(staff, tree["women"], title="撤回项目")),
                                   publish=False)
    page = client.get(reverse("portal:projects")).content.decode()
    assert "公开项目" in page and "未公开项目" not in page and "撤回项目" not in page
    assert "示范县妇联" in page and shown.deadline.strftime("%Y年") in page and not withdrawn.is_published


def test_project_ui(client_for, staff, tree):
    c = client_for(staff)
    r = c.post(reverse("casework:project_add"), {"unit": tree["women"].pk, "title": "送法进村",
                                                  "description": "每月一次法律讲座", "deadline": "2030-01-01"})
    assert r.status_code == 302
    p = PracticalProject.objects.get()
    for name in ("project_status", "project_complete", "project_detail"):
        assert c.get(reverse(f"casework:{name}", args=[p.pk])).status_code == 200, name
    r = c.post(reverse("casework:project_status", args=[p.pk]), {"status": "in_progress"})
    assert r.status_code == 302 and PracticalProject.objects.get().status == P.IN_PROGRESS
    r = c.post(reverse("casework:project_complete", args=[p.pk]), {"result": "已举办12场"})
    assert r.status_code == 302 and PracticalProject.objects.get().status == P.COMPLETED
    c.post(reverse("casework:project_publish", args=[p.pk]))
    assert PracticalProject.objects.get().is_published
    r = c.post(reverse("casework:project_status", args=[p.pk]), {"status": "planned"})
    assert "不能从“已完成”改为" in r.content.decode()


# --- the dashboard ---------------------------------------------------------------------------------

CHILD_NAMES = ["赵一", "钱二", "孙三", "李四", "周五", "吴六"]


@pytest.fixture
def data(staff, accounts, tree, person_factory):
    """Cases in three units of 示范县 and one in 邻县, closed ones with satisfaction; pairings
    against a target; wishes in every stage."""
    types = list(RequestType.objects.filter(is_active=True)[:3])
    other_staff = accounts["party_office"].__class__.objects.create_user(
        username="linxian", password="Qunli-Test-2026!", must_change_password=False)
    from conftest import grant

    grant(other_staff, "staff", tree["other_county"], all_lines=True)
    plan = [(tree["women"], "12338", 0), (tree["women"], "online", 1), (tree["town_women"], "walk_in", 0),
            (tree["village_women"], "12338", 2), (tree["union"], "12351", 1), (tree["town_women"], "12338", 2),
            (tree["women"], "walk_in", 0)]
    cases = []
    for i, (unit, channel, t) in enumerate(plan):
        cases.append(casework.receive_request(staff, unit=unit, type=types[t], channel=channel,
                                              requester_name=f"诉求人{i}", requester_phone=f"1380013{i:04d}",
                                              description="需要帮助"))
    casework.receive_request(other_staff, unit=tree["other_women"], type=types[0], channel="12338",
                             requester_name="邻县诉求人", requester_phone="13800139999", description="x")
    now = timezone.now()
    for c, sat in zip(cases[:4], (5, 4, 5, 2), strict=True):  # two closed late
        Case.objects.filter(pk=c.pk).update(status="closed", satisfaction=sat, closed_at=now)
    Case.objects.filter(pk__in=[cases[0].pk, cases[2].pk]).update(resolve_due=TODAY - dt.timedelta(days=3))
    Case.objects.filter(pk=cases[4].pk).update(status="assigned")
    # pairings: 3 persons served under 示范县妇联's subtree against a target of 4
    vol = person_factory(unit=tree["ggw"], name="李老师")
    VolunteerProfile.objects.create(person=vol, unit=tree["ggw"], category="teacher")
    children = [person_factory(unit=tree["village_women"], name=n) for n in CHILD_NAMES]
    for ch in children[:3]:
        pa.create_pairing(staff, helper=vol, served=ch, kind="help", category="left_behind", unit=tree["women"],
                          started_on=TODAY - dt.timedelta(days=10))
    pa.set_target(staff, unit=tree["women"], year=TODAY.year, kind="help", category="left_behind", target=4)
    # wishes: one per stage, amounts 10, 20, 30 …
    portal = portal_actions.portal_account()
    stages = ["pending", "approved", "published", "claimed", "fulfilled", "fulfilled"]
    for i, (ch, stage) in enumerate(zip(children, stages, strict=True)):
        unit = tree["women"] if i % 2 else tree["town_women"]
        w = wa.collect_wish(staff, served=ch, unit=unit, category="school", text=f"心愿{i}", amount=10 * (i + 1))
        if stage == "pending":
            continue
        wa.approve_wish(accounts["women_staff"], w)  # four-eyes: not the registrant
        if stage == "approved":
            continue
        wa.publish_wish(staff, w)
        if stage == "published":
            continue
        wa.claim_wish(portal, w.pk, name="爱心", phone=f"1390000000{i}")
        if stage == "fulfilled":
            wa.fulfil_wish(staff, w, photo=("p.png", PNG))
    return {"cases": cases}


def recount(user_units_prefix: str, lines=None):
    rows = [c for c in Case.objects.select_related("unit", "request") if c.unit.path.startswith(user_units_prefix)
            and (lines is None or c.unit.line_id in lines)]
    closed = [c for c in rows if c.status == "closed"]
    return {
        "channel": Counter(c.request.channel for c in rows),
        "type": Counter(c.request.type_id for c in rows),
        "status": Counter(c.status for c in rows),
        "closed": len(closed),
        "on_time": sum(1 for c in closed if timezone.localdate(c.closed_at) <= c.resolve_due),
        "satisfaction": Counter(c.satisfaction for c in closed),
    }


def test_dashboard_figures_equal_a_recount(staff, tree, data):
    for unit in (None, tree["women"], tree["town"]):
        stats = queries.dashboard(staff, unit)
        want = recount(unit.path if unit else tree["county"].path)
        assert {r["code"]: r["n"] for r in stats["by_channel"]} == dict(want["channel"])
        assert {r["code"]: r["n"] for r in stats["by_type"]} == dict(want["type"])
        assert {r["code"]: r["n"] for r in stats["by_status"]} == dict(want["status"])
        assert stats["on_time"]["closed"] == want["closed"] and stats["on_time"]["on_time"] == want["on_time"]
        assert {r["score"]: r["n"] for r in stats["satisfaction"] if r["n"]} == dict(want["satisfaction"])
    stats = queries.dashboard(staff, None)
    assert stats["cases_total"] == 7 and stats["satisfaction_avg"] == 4.0 and stats["on_time"]["rate"] == 50.0
    # pairing coverage equals the targets page's own figure for the unit
    stats = queries.dashboard(staff, tree["women"])
    tp = target_progress(staff, tree["women"], year=TODAY.year, kind="help", category="left_behind")
    row = next(r for r in stats["coverage"] if r["kind"] == "help" and r["category"] == "left_behind")
    assert (row["target"], row["active"], row["pct"]) == (tp["target"], tp["active"], tp["pct"]) == (4, 3, 75.0)
    # wishes: totals and per branch equal a recount
    w = queries.dashboard(staff, tree["county"], branches=[tree["women"], tree["town"]])
    wishes = list(Wish.objects.all())
    assert w["wishes"]["collected"] == 6 and w["wishes"]["published"] == 4 and w["wishes"]["claimed"] == 3
    assert w["wishes"]["fulfilled"] == 2
    assert w["wishes"]["amount_fulfilled"] == sum((x.amount for x in wishes if x.status == "fulfilled"), Decimal(0))
    by_unit = {r["unit"].pk: r for r in w["wishes_by_unit"]}
    for branch in (tree["women"], tree["town"]):
        mine = [x for x in wishes if x.unit.path.startswith(branch.path)]
        assert by_unit[branch.pk]["collected"] == len(mine)
        assert by_unit[branch.pk]["fulfilled"] == sum(1 for x in mine if x.status == "fulfilled")
        assert by_unit[branch.pk]["amount_fulfilled"] == sum((x.amount for x in mine if x.status == "fulfilled"),
                                                             Decimal(0))


def test_dashboard_scoped_by_line_and_county(accounts, tree, lines, data):
    women = queries.dashboard(accounts["women_staff"], None)
    want = recount(tree["county"].path, lines={lines["women"].pk})
    assert women["cases_total"] == sum(want["status"].values()) == 6  # not the union's case
    clerk = queries.dashboard(accounts["clerk"], None)
    assert clerk["cases_total"] == 1  # the village unit only
    # the 邻县 case is never counted
    assert queries.dashboard(accounts["party_office"], None)["cases_total"] == 7


def test_dashboard_page_counts_without_identities(client_for, accounts, tree, data, django_assert_max_num_queries):
    """A colleague with a grant but on no case sees the counts — and not one case."""
    c = client_for(accounts["women_staff"])
    with django_assert_max_num_queries(15):
        r = c.get(reverse("casework:dashboard"))
    html = r.content.decode()
    assert r.status_code == 200 and 'data-stat="cases">6<' in html and "casework-dashboard-data" in html
    for case in data["cases"]:
        assert case.request.tracking_code not in html
    assert not re.search(r'href="/casework/\d+/', html)  # no link to any case
    for secret in ("诉求人", "13800130", *CHILD_NAMES, "邻县"):
        assert secret not in html
    with django_assert_max_num_queries(16):
        r = c.get(reverse("casework:dashboard"), {"unit": tree["town"].pk})
    assert r.status_code == 200 and 'id="wishes-table"' in r.content.decode()
    assert c.get(reverse("casework:dashboard"), {"unit": tree["other_women"].pk}).status_code == 404


def test_navigation_marks_only_the_longest_match(accounts):
    from qunli.core.navigation import menu_for

    items = [e for g in menu_for(accounts["party_office"], "/casework/wishes/3/") for e in g["items"]]
    assert [e["label"] for e in items if e["active"]] == ["微心愿"]
    items = [e for g in menu_for(accounts["party_office"], "/casework/12/") for e in g["items"]]
    assert [e["label"] for e in items if e["active"]] == ["全部个案"]
