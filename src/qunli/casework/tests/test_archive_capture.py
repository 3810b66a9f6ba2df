"""Closed cases captured for the archives (``casework.archive``) carry what filing needs: 页数
and, when the fonds classes by them, the 机构（问题）代码 — so the pending list files them as
they are."""

import datetime as dt

import pytest

from conftest import add_unit, grant, make_user
from qunli.casework import actions
from qunli.casework.archive import case_org_code, case_pages, case_summary
from qunli.casework.models import RequestType
from qunli.records import actions as records
from qunli.records.models import Fonds, Item

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(tree, lines, accounts):
    worker, supervisor = make_user("worker"), make_user("super")
    for u in (worker, supervisor):
        grant(u, "staff", tree["county"], lines=[lines["women"]])
    return {"intake": accounts["women_staff"], "worker": worker, "super": supervisor}


def closed_case(team, unit, django_capture_on_commit_callbacks, type_code="domestic_violence"):
    case = actions.receive_request(team["intake"], unit=unit, type=RequestType.objects.get(code=type_code),
                                   channel="12338", requester_name="李小红", requester_phone="13800138000",
                                   description="需要帮助")
    case = actions.assign_case(team["intake"], case, caseworker=team["worker"], supervisor=team["super"])
    case = actions.assess(team["worker"], case, note="评估")
    case = actions.submit_plan(team["worker"], case, note="计划")
    case = actions.approve_plan(team["super"], case, note="同意")
    case = actions.record_service(team["worker"], case, visit_type="home", note="入户走访")
    case = actions.follow_up(team["worker"], case, note="回访")
    with django_capture_on_commit_callbacks(execute=True):
        return actions.close_case(team["worker"], case, outcome="办结", satisfaction=5)


def women_fonds(team, tree, codes=(("BGS", "办公室"), ("QYB", "权益部"))) -> Fonds:
    fonds = records.create_fonds(team["intake"], unit=tree["women"], code="F021", name="示范县妇联")
    for code, name in codes:
        records.add_org_code(team["intake"], fonds, code=code, name=name)
    records.add_schedule_version(team["intake"], tree["women"], effective_on=dt.date(2000, 1, 1),
                                 rules=[("个案", "D30")])
    return Fonds.objects.select_related("unit").get(pk=fonds.pk)


def test_a_closed_case_is_captured_with_pages_and_org_code_and_files_as_it_is(team, tree,
                                                                             django_capture_on_commit_callbacks):
    women_fonds(team, tree)
    case = closed_case(team, tree["women"], django_capture_on_commit_callbacks)
    item = Item.objects.select_related("org_code").get(source_type="casework.case", source_id=str(case.pk))
    assert item.pages == case.events.count() == 8  # one page per recorded step, 受理 … 结案
    assert item.org_code.code == "QYB"  # 问题: 家庭暴力/妇女儿童权益 → 权益部
    out = records.file_items(team["intake"], [item.pk])  # no 「缺少必著项：页数、机构（问题）代码」
    assert out["count"] == 1
    assert Item.objects.get(pk=item.pk).archival_code == f"F021-WS·{item.year}-D30-QYB-0001"


def test_a_fonds_without_org_codes_gets_none_and_still_files(team, tree, django_capture_on_commit_callbacks):
    women_fonds(team, tree, codes=())
    case = closed_case(team, tree["women"], django_capture_on_commit_callbacks)
    item = Item.objects.get(source_type="casework.case", source_id=str(case.pk))
    assert item.org_code_id is None and item.pages == 8
    assert records.file_items(team["intake"], [item.pk])["count"] == 1


def test_org_code_rules_department_unit_then_problem_then_hint_then_the_only_code(team, tree, lines,
                                                                                 django_capture_on_commit_callbacks):
    fonds = women_fonds(team, tree, codes=(("BGS", "办公室"), ("JTB", "家庭和儿童工作部"), ("ZZB", "组织部")))
    dept = add_unit(tree["women"], name="示范县妇联组织部", level=tree["women"].level, line=lines["women"])
    case = closed_case(team, dept, django_capture_on_commit_callbacks)
    assert case_org_code(fonds, case) == "ZZB"  # 1. the department unit that handled it
    case.unit = tree["women"]
    assert case_org_code(fonds, case) == ""  # no department, no problem, no hint, several codes: left empty
    records.add_org_code(team["intake"], fonds, code="WQB", name="维权部")
    assert case_org_code(fonds, case) == "WQB"  # 3. the department serving the masses' cases
    case.request.type = RequestType.objects.get(code="study_aid")
    records.add_org_code(team["intake"], fonds, code="ZX", name="助学办")
    assert case_org_code(fonds, case) == "ZX"  # 2. the problem: 助学 names the request type
    single = Fonds.objects.create(code="F099", name="单一", unit=tree["town_women"])
    records.add_org_code(team["intake"], single, code="BGS", name="办公室")
    assert case_org_code(single, case) == "BGS"  # 4. the only code


def test_pages_count_the_recorded_steps_and_never_zero(team, tree, django_capture_on_commit_callbacks):
    case = closed_case(team, tree["women"], django_capture_on_commit_callbacks)
    assert case_pages(case_summary(case)) == 8
    assert case_pages({"steps": []}) == 1
