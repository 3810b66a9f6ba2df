"""The organization pages: what each account sees, that forms write through the actions
(leaving a change-log row), and query-count ceilings so an N+1 cannot ship."""

import datetime as dt

import pytest
from django.urls import reverse

from qunli.core.models import ChangeLog
from qunli.orgs import actions
from qunli.orgs.models import Checklist, Inspection, Line, Position, Unit, UnitStatus, Venue
from qunli.orgs.queries import children_of


def add(parent, n, **fields):
    out = []
    for i in range(n):
        parent = Unit.objects.get(pk=parent.pk)
        out.append(Unit.objects.add_child(parent, {"name": f"{parent.name}{i}号", **fields}))
    return [Unit.objects.get(pk=u.pk) for u in out]


# --- tree -----------------------------------------------------------------------------

def test_tree_starts_at_the_grant_unit_and_hides_units_above_it(client_for, accounts, tree):
    body = client_for(accounts["women_staff"]).get(reverse("orgs:tree")).content.decode()
    assert "示范县" in body and "湖南省" not in body and "邻县" not in body


def test_tree_children_load_only_visible_units_with_counts(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    body = c.get(reverse("orgs:tree_children", args=[tree["county"].pk])).content.decode()
    assert "示范县妇联" in body and "城关镇" in body
    assert "示范县总工会" not in body and "示范县关工委" not in body
    town = {u.name: u for u in children_of(accounts["women_staff"], tree["county"])}["城关镇"]
    assert town.visible_child_count == 2  # 城关镇妇联 and 东风村


def test_tree_children_of_a_unit_outside_the_grant_is_404(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    assert c.get(reverse("orgs:tree_children", args=[tree["other_county"].pk])).status_code == 404
    assert c.get(reverse("orgs:tree_children", args=[tree["union"].pk])).status_code == 404


def test_tree_search_lists_only_visible_matches(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    body = c.get(reverse("orgs:tree"), {"q": "妇联"}, HTTP_HX_REQUEST="true").content.decode()
    assert "城关镇妇联" in body and "东风村妇联" in body and "邻县妇联" not in body


# --- units ----------------------------------------------------------------------------

def test_unit_list_shows_visible_units_and_filters_by_line(client_for, accounts, tree, lines):
    c = client_for(accounts["women_staff"])
    body = c.get(reverse("orgs:unit_list")).content.decode()
    assert "城关镇妇联" in body and "邻县妇联" not in body and "示范县总工会" not in body
    body = c.get(reverse("orgs:unit_list"), {"line": lines["women"].pk, "level": "village"}).content.decode()
    assert "东风村妇联" in body and "城关镇妇联" not in body


def test_unit_list_searches_by_division_code(client_for, accounts, tree):
    body = client_for(accounts["party_office"]).get(reverse("orgs:unit_list"), {"q": "430121100201"}).content.decode()
    assert "东风村" in body and "城关镇妇联" not in body


def test_unit_list_exports_xlsx_with_each_units_parent(client_for, accounts, tree):
    import io

    import openpyxl

    r = client_for(accounts["party_office"]).get(reverse("orgs:unit_list"), {"export": "xlsx"})
    assert r.status_code == 200 and "spreadsheet" in r["Content-Type"]
    rows = list(openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content))).active.values)
    assert rows[0][:2] == ("名称", "上级单位")
    parents = {row[0]: row[1] for row in rows[1:]}
    assert parents["东风村妇联"] == "东风村" and parents["城关镇"] == "示范县"


def test_unit_list_names_each_units_parent_so_namesakes_are_told_apart(client_for, accounts, tree, lines):
    from conftest import add_unit
    from qunli.orgs.models import Level

    west = add_unit(tree["county"], name="河西镇", level=Level.TOWNSHIP)
    add_unit(west, name="城关镇妇联", level=Level.TOWNSHIP, line=lines["women"])
    body = client_for(accounts["women_staff"]).get(reverse("orgs:unit_list"), {"q": "城关镇妇联"}).content.decode()
    assert body.count("城关镇妇联") >= 2 and "<td>城关镇</td>" in body and "<td>河西镇</td>" in body


@pytest.mark.parametrize("tab", ["detail", "children", "team", "conditions", "venues", "events", "history"])
def test_unit_detail_tab_renders_for_an_allowed_account(client_for, accounts, tree, tab):
    r = client_for(accounts["women_staff"]).get(reverse("orgs:unit_detail", args=[tree["town_women"].pk]),
                                                {"tab": tab})
    assert r.status_code == 200 and "城关镇妇联" in r.content.decode()


def test_unit_detail_outside_the_grant_is_404(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    assert c.get(reverse("orgs:unit_detail", args=[tree["other_women"].pk])).status_code == 404
    assert c.get(reverse("orgs:unit_detail", args=[tree["union"].pk])).status_code == 404


def test_unit_detail_breadcrumbs_show_only_visible_ancestors(client_for, accounts, tree):
    body = client_for(accounts["women_staff"]).get(
        reverse("orgs:unit_detail", args=[tree["village_women"].pk])).content.decode()
    assert "城关镇" in body and "东风村" in body and "湖南省" not in body


def test_unit_team_tab_warns_of_missing_vice_and_expired_term(client_for, accounts, tree, person_factory):
    staff = accounts["women_staff"]
    chair = person_factory(unit=tree["women"], name="李主席")
    actions.appoint(staff, unit=tree["women"], person=chair, title="chair", started_on=dt.date(2018, 1, 1),
                    term_ends_on=dt.date(2023, 1, 1))
    body = client_for(staff).get(reverse("orgs:unit_detail", args=[tree["women"].pk]), {"tab": "team"}).content.decode()
    assert "班子不健全：缺副职" in body
    assert "李主席" in body and "任期已于 2023-01-01 届满" in body


def test_unit_add_creates_a_child_through_the_action_and_logs_it(client_for, accounts, tree, lines):
    c = client_for(accounts["women_staff"])
    url = reverse("orgs:unit_add") + f"?parent={tree['town'].pk}"
    assert c.get(url).status_code == 200
    r = c.post(url, {"parent": tree["town"].pk, "name": "西湖村妇联", "level": "village", "line": lines["women"].pk,
                     "kind": "geo"})
    unit = Unit.objects.get(name="西湖村妇联")
    assert r.status_code == 302 and r["Location"] == unit.get_absolute_url()
    assert unit.path[:-Unit.steplen] == tree["town"].path
    assert ChangeLog.objects.filter(action="orgs.create_unit", object_id=str(unit.pk)).exists()


def test_unit_add_shows_the_action_refusal_as_a_form_error(client_for, accounts, tree, lines):
    c = client_for(accounts["women_staff"])
    r = c.post(reverse("orgs:unit_add") + f"?parent={tree['town'].pk}",
               {"parent": tree["town"].pk, "name": "错层", "level": "county", "line": lines["women"].pk, "kind": "geo"})
    assert r.status_code == 200 and "层级不能高于" in r.content.decode()
    assert not Unit.objects.filter(name="错层").exists()


def test_unit_add_under_a_parent_outside_the_grant_is_404(client_for, accounts, tree):
    r = client_for(accounts["women_staff"]).get(reverse("orgs:unit_add") + f"?parent={tree['other_women'].pk}")
    assert r.status_code == 404


def test_unit_edit_updates_through_the_action(client_for, accounts, tree, lines):
    c = client_for(accounts["women_staff"])
    url = reverse("orgs:unit_edit", args=[tree["town_women"].pk])
    assert c.get(url).status_code == 200
    r = c.post(url, {"name": "城关镇妇女联合会", "level": "township", "line": lines["women"].pk, "kind": "geo"})
    assert r.status_code == 302
    assert Unit.objects.get(pk=tree["town_women"].pk).name == "城关镇妇女联合会"
    assert ChangeLog.objects.filter(action="orgs.update_unit", object_id=str(tree["town_women"].pk)).exists()


def test_read_only_leader_cannot_open_the_edit_form(client_for, accounts, tree):
    assert client_for(accounts["leader"]).get(reverse("orgs:unit_edit", args=[tree["women"].pk])).status_code == 403


def test_merge_form_merges_into_a_sibling(client_for, accounts, tree):
    sibling = Unit.objects.get(pk=Unit.objects.add_child(tree["village"], {
        "name": "东风村妇女之家", "level": "village", "line_id": tree["village_women"].line_id}).pk)
    r = client_for(accounts["women_staff"]).post(reverse("orgs:unit_merge", args=[sibling.pk]), {
        "into": tree["village_women"].pk, "on": "2026-03-01", "confirm": "on"})
    assert r.status_code == 302
    sibling.refresh_from_db()
    assert sibling.status == UnitStatus.MERGED and sibling.successor_id == tree["village_women"].pk


def test_dissolve_form_requires_confirmation_and_then_dissolves(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    url = reverse("orgs:unit_dissolve", args=[tree["village_women"].pk])
    assert c.post(url, {"on": "2026-03-01"}).status_code == 200
    assert Unit.objects.get(pk=tree["village_women"].pk).status == UnitStatus.ACTIVE
    assert c.post(url, {"on": "2026-03-01", "confirm": "on", "note": "村改社区"}).status_code == 302
    assert Unit.objects.get(pk=tree["village_women"].pk).status == UnitStatus.DISSOLVED
    assert ChangeLog.objects.filter(action="orgs.dissolved_unit").exists()


def test_conditions_form_sets_the_four_lacks(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    url = reverse("orgs:unit_conditions", args=[tree["town_women"].pk])
    assert c.get(url).status_code == 200
    r = c.post(url, {"lacks_venue": "on", "lacks_funding": "on", "staff_count": 2, "annual_funding": "5000"})
    assert r.status_code == 302
    cond = tree["town_women"].condition
    assert cond.lack_count == 2 and cond.staff_count == 2
    assert ChangeLog.objects.filter(action="orgs.set_conditions").exists()


# --- positions ------------------------------------------------------------------------

def test_position_list_filters_expired_terms(client_for, accounts, tree, person_factory):
    staff = accounts["women_staff"]
    old = actions.appoint(staff, unit=tree["women"], person=person_factory(unit=tree["women"], name="王过期"),
                          title="chair", started_on=dt.date(2018, 1, 1), term_ends_on=dt.date(2023, 1, 1))
    actions.appoint(staff, unit=tree["town_women"], person=person_factory(unit=tree["town_women"], name="赵在任"),
                    title="chair", started_on=dt.date(2024, 1, 1), term_ends_on=dt.date(2099, 1, 1))
    c = client_for(staff)
    body = c.get(reverse("orgs:position_list"), {"expired": "1"}).content.decode()
    assert "王过期" in body and "赵在任" not in body
    body = c.get(reverse("orgs:position_list"), {"expired": "0"}).content.decode()
    assert "赵在任" in body and "王过期" not in body
    assert old.get_absolute_url().endswith("?tab=team")


def test_appoint_form_creates_a_position_by_person_number(client_for, accounts, tree, person_factory):
    person = person_factory(unit=tree["women"], name="钱副")
    c = client_for(accounts["women_staff"])
    url = reverse("orgs:unit_appoint", args=[tree["women"].pk])
    assert c.get(url).status_code == 200
    r = c.post(url, {"person": person.pk, "title": "vice", "started_on": "2025-01-01", "term_ends_on": "2030-01-01"})
    assert r.status_code == 302
    pos = Position.objects.get(unit=tree["women"], person=person)
    assert ChangeLog.objects.filter(action="orgs.appoint", object_id=str(pos.pk)).exists()


def test_appoint_form_cannot_pick_a_person_outside_the_grant(client_for, accounts, tree, person_factory):
    outsider = person_factory(unit=tree["other_women"], name="邻县人")
    r = client_for(accounts["women_staff"]).post(reverse("orgs:unit_appoint", args=[tree["women"].pk]), {
        "person": outsider.pk, "title": "vice", "started_on": "2025-01-01"})
    assert r.status_code == 200 and "不在您的数据范围内" in r.content.decode()
    assert not Position.objects.exists()


def test_ending_a_term_early_shows_the_warning_and_needs_reason_and_confirmation(client_for, accounts, tree,
                                                                                  person_factory):
    staff = accounts["women_staff"]
    pos = actions.appoint(staff, unit=tree["women"], person=person_factory(unit=tree["women"], name="孙主席"),
                          title="chair", started_on=dt.date(2024, 1, 1), term_ends_on=dt.date(2099, 1, 1))
    c = client_for(staff)
    url = reverse("orgs:position_end", args=[pos.pk])
    assert "任期未满不得任意调动" in c.get(url).content.decode()
    r = c.post(url, {"on": "2026-01-01"})
    assert r.status_code == 200 and "必须填写原因" in r.content.decode()
    assert Position.objects.get(pk=pos.pk).ended_on is None
    r = c.post(url, {"on": "2026-01-01", "reason": "工作调动", "confirm_early": "on"})
    assert r.status_code == 302
    pos.refresh_from_db()
    assert pos.ended_on == dt.date(2026, 1, 1) and pos.ended_early
    assert ChangeLog.objects.filter(action="orgs.end_position", object_id=str(pos.pk)).exists()


def test_end_position_outside_the_grant_is_404(client_for, accounts, tree, person_factory):
    pos = actions.appoint(accounts["party_office"], unit=tree["union"],
                          person=person_factory(unit=tree["union"]), title="chair", started_on=dt.date(2024, 1, 1))
    assert client_for(accounts["women_staff"]).get(reverse("orgs:position_end", args=[pos.pk])).status_code == 404


# --- venues ---------------------------------------------------------------------------

@pytest.fixture
def venue(tree, accounts):
    return actions.create_venue(accounts["women_staff"], unit=tree["town_women"], name="城关镇妇女之家",
                                kind="womens_home")


def test_venue_list_and_detail_render_for_an_allowed_account(client_for, accounts, venue):
    c = client_for(accounts["women_staff"])
    assert "城关镇妇女之家" in c.get(reverse("orgs:venue_list")).content.decode()
    r = c.get(venue.get_absolute_url())
    assert r.status_code == 200 and "七有" in r.content.decode()
    assert c.get(venue.get_absolute_url(), {"tab": "history"}).status_code == 200


def test_venue_outside_the_grant_is_404(client_for, accounts, tree):
    other = actions.create_venue(accounts["party_office"], unit=tree["union"], name="职工之家", kind="workers_home")
    c = client_for(accounts["women_staff"])
    assert c.get(other.get_absolute_url()).status_code == 404
    assert c.get(reverse("orgs:venue_inspect", args=[other.pk])).status_code == 404


def test_inspection_form_scores_checked_items_through_the_action(client_for, accounts, venue):
    checklist = Checklist.objects.get(name="七有")
    items = list(checklist.items.all())
    c = client_for(accounts["women_staff"])
    url = reverse("orgs:venue_inspect", args=[venue.pk])
    body = c.get(url, {"checklist": checklist.pk}).content.decode()
    assert "有场所" in body and "有档案" in body
    r = c.post(url, {"checklist": checklist.pk, "on": "2026-02-01", "inspector": "检查组",
                     "met_items": [str(i.pk) for i in items[:6]]})
    assert r.status_code == 302
    insp = Inspection.objects.get(venue=venue)
    assert insp.score == round(100 * sum(i.points for i in items[:6]) / sum(i.points for i in items))
    venue.refresh_from_db()
    assert venue.latest_score == insp.score
    assert ChangeLog.objects.filter(action="orgs.record_inspection").exists()


def test_venue_add_form_creates_a_venue(client_for, accounts, tree):
    r = client_for(accounts["women_staff"]).post(reverse("orgs:venue_add", args=[tree["town_women"].pk]),
                                                 {"name": "巾帼家园", "kind": "womens_home", "area_m2": 80})
    venue = Venue.objects.get(name="巾帼家园")
    assert r.status_code == 302 and r["Location"] == venue.get_absolute_url()


# --- system administrator -------------------------------------------------------------

def test_sysadmin_sees_lines_and_checklists_but_business_users_do_not(client_for, accounts):
    c = client_for(accounts["sysadmin"])
    assert "关工委" in c.get(reverse("orgs:line_list")).content.decode()
    assert "五有一能" in c.get(reverse("orgs:checklist_list")).content.decode()
    c = client_for(accounts["party_office"])
    assert c.get(reverse("orgs:line_list")).status_code == 403
    assert c.get(reverse("orgs:checklist_list")).status_code == 403


def test_sysadmin_adds_a_line_through_the_action(client_for, accounts):
    c = client_for(accounts["sysadmin"])
    r = c.post(reverse("orgs:line_list"), {"code": "redcross", "name": "红十字会", "chair_title": "会长"})
    assert r.status_code == 302 and Line.objects.filter(code="redcross").exists()
    assert ChangeLog.objects.filter(action="orgs.create_line").exists()
    r = c.post(reverse("orgs:line_list"), {"code": "redcross", "name": "红十字会", "chair_title": "会长"})
    assert "已存在" in r.content.decode()


def test_sysadmin_sees_no_unit_pages(client_for, accounts, tree):
    c = client_for(accounts["sysadmin"])
    assert c.get(reverse("orgs:unit_list")).status_code == 403
    assert c.get(reverse("orgs:unit_detail", args=[tree["county"].pk])).status_code == 403


# --- query-count ceilings (about twenty rows each) ------------------------------------

@pytest.fixture
def crowded(tree, accounts, person_factory, lines):
    """Twenty child units, twenty positions, twenty venues with an inspection each."""
    staff = accounts["party_office"]
    kids = add(tree["town"], 20, level="village", line=lines["women"])
    for u in kids[:5]:
        add(u, 2, level="group", line=lines["women"])
    checklist = Checklist.objects.get(name="七有")
    item_ids = list(checklist.items.values_list("pk", flat=True))
    for i, u in enumerate(kids):
        actions.appoint(staff, unit=u, person=person_factory(unit=u, name=f"人{i}"), title="chair",
                        started_on=dt.date(2020, 1, 1), term_ends_on=dt.date(2023, 1, 1))
        v = actions.create_venue(staff, unit=u, name=f"阵地{i}", kind="womens_home")
        actions.record_inspection(staff, v, checklist=checklist, on=dt.date(2026, 1, 1), inspector="组",
                                  met_item_ids=item_ids[: i % 7])
    for i in range(20):
        actions.appoint(staff, unit=tree["town_women"], person=person_factory(unit=tree["town_women"], name=f"委员{i}"),
                        title="member", started_on=dt.date(2020, 1, 1), term_ends_on=dt.date(2023 + i % 5, 6, 1)
                        if i % 2 else None)
        v = actions.create_venue(staff, unit=tree["town_women"], name=f"镇阵地{i}", kind="womens_home")
        for d in range(1, 3):
            actions.record_inspection(staff, v, checklist=checklist, on=dt.date(2026, 1, d), inspector="组",
                                      met_item_ids=item_ids)
    return kids


@pytest.mark.parametrize("name", ["orgs:unit_list", "orgs:position_list", "orgs:venue_list", "orgs:tree"])
def test_list_query_count_stays_flat(client_for, accounts, crowded, django_assert_max_num_queries, name):
    c = client_for(accounts["party_office"])
    with django_assert_max_num_queries(12):
        r = c.get(reverse(name))
    assert r.status_code == 200


@pytest.mark.parametrize("tab", ["detail", "children", "team", "conditions", "venues", "events", "history"])
def test_unit_detail_query_count_stays_flat(client_for, accounts, tree, crowded, django_assert_max_num_queries, tab):
    c = client_for(accounts["party_office"])
    unit = tree["town"] if tab in ("children", "detail") else tree["town_women"]
    with django_assert_max_num_queries(14):
        r = c.get(reverse("orgs:unit_detail", args=[unit.pk]), {"tab": tab})
    assert r.status_code == 200


def test_tree_children_query_count_stays_flat(client_for, accounts, tree, crowded, django_assert_max_num_queries):
    c = client_for(accounts["party_office"])
    with django_assert_max_num_queries(10):
        r = c.get(reverse("orgs:tree_children", args=[tree["town"].pk]))
    assert r.content.decode().count("个下级") >= 6


def test_venue_detail_query_count_stays_flat(client_for, accounts, tree, crowded, django_assert_max_num_queries):
    venue = Venue.objects.filter(unit=tree["town_women"]).first()
    for d in range(3, 25):
        actions.record_inspection(accounts["party_office"], venue, checklist=Checklist.objects.get(name="七有"),
                                  on=dt.date(2026, 1, d), inspector="组", met_item_ids=[])
    c = client_for(accounts["party_office"])
    for tab in ("detail", "history"):
        with django_assert_max_num_queries(12):
            assert c.get(venue.get_absolute_url(), {"tab": tab}).status_code == 200
