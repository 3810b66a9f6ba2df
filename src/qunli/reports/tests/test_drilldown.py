"""The dashboard's figures open the list behind them: 班子不健全, 任期已届满, 四缺 — and the lists
can be narrowed to a subtree (单位（含下级）), so the numbers and the rows agree."""

import datetime as dt
import re

import pytest

from qunli.orgs import actions

pytestmark = pytest.mark.django_db


def count(page: str) -> int:
    return int(re.search(r"共 (\d+) 条", page).group(1))


def test_each_dashboard_figure_links_to_a_list_of_as_many_rows(client_for, accounts, tree, person_factory):
    office = accounts["party_office"]
    women, union = tree["women"], tree["union"]
    actions.appoint(office, unit=women, person=person_factory(unit=women, name="甲"), title="chair",
                    started_on=dt.date(2020, 1, 1), term_ends_on=dt.date(2023, 1, 1))  # expired, no 副职
    actions.appoint(office, unit=union, person=person_factory(unit=union, name="乙"), title="chair",
                    started_on=dt.date(2024, 1, 1))
    actions.appoint(office, unit=union, person=person_factory(unit=union, name="丙"), title="vice",
                    started_on=dt.date(2024, 1, 1))
    actions.set_conditions(office, tree["village_women"], lacks_staff=True, lacks_funding=True)
    c = client_for(office)
    dash = c.get(f"/reports/?unit={tree['county'].pk}").content.decode()
    links = dict(re.findall(r'href="(/orgs/[a-z]+/\?[^"]+)"[^>]*>(?:<[^>]+>)*\s*(?:不健全 <span[^>]*>)?([\d,]+)', dash))
    assert len(links) >= 3, links
    for url, figure in links.items():
        page = c.get(url.replace("&amp;", "&")).content.decode()
        assert count(page) == int(figure.replace(",", "")), url
    incomplete = c.get(f"/orgs/units/?team=incomplete&under={tree['county'].pk}").content.decode()
    assert "示范县妇联" in incomplete and "示范县总工会" not in incomplete


def test_a_list_narrowed_to_a_subtree_keeps_only_its_rows(client_for, accounts, tree, person_factory):
    person_factory(unit=tree["village_women"], name="东风村的人")
    person_factory(unit=tree["women"], name="县妇联的人")
    page = client_for(accounts["party_office"]).get(f"/people/?under={tree['town'].pk}").content.decode()
    assert "东风村的人" in page and "县妇联的人" not in page


def test_the_dashboard_drills_into_active_children_and_says_when_it_lists_only_some(client_for, accounts, tree,
                                                                                   settings):
    from qunli.reports import views

    office = accounts["party_office"]
    actions.merge_unit(office, tree["ggw"], tree["women"])
    page = client_for(office).get(f"/reports/?unit={tree['county'].pk}").content.decode()
    children = page[page.index('id="unit-children"'):]
    children = children[:children.index("</div>")]
    assert "示范县妇联" in children and "示范县关工委" not in children and "只列出前" not in children
    views.CHILDREN_LIMIT, old = 2, views.CHILDREN_LIMIT
    try:
        page = client_for(office).get(f"/reports/?unit={tree['county'].pk}").content.decode()
    finally:
        views.CHILDREN_LIMIT = old
    assert "只列出前 2 个，其余请用上方搜索" in page


def test_a_capped_tree_search_says_so_and_names_each_units_parents(client_for, accounts, tree):
    from qunli.orgs import views

    views.TREE_SEARCH_LIMIT, old = 1, views.TREE_SEARCH_LIMIT
    try:
        page = client_for(accounts["party_office"]).get("/orgs/tree/?q=妇联", HTTP_HX_REQUEST="true").content.decode()
    finally:
        views.TREE_SEARCH_LIMIT = old
    assert "前 1 个" in page and "在单位列表中查看全部" in page and "示范县 · 妇联 · 区县" in page  # its parents
