"""The dashboard: figures come from a fixed handful of aggregate queries, follow the data,
and never count rows outside the account's grant or the selected subtree."""

import datetime as dt

import pytest
from django.urls import reverse

from qunli.orgs.models import BaseCondition, Position, PositionTitle, Unit, Venue
from qunli.people.models import Membership, Person, VolunteerProfile
from qunli.reports import queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(tree, lines, person_factory):
    """Rows in 示范县 and a mirror set in 邻县 (outside every county grant)."""
    today = dt.date.today()
    out = {}
    for key, unit, vunit in (("in", tree["village_women"], tree["ggw"]), ("out", tree["other_women"], tree["other_women"])):
        p = person_factory(unit=unit, name=f"测试{key}")
        Membership.objects.create(person=p, line=lines["women"], unit=unit)
        Position.objects.create(unit=unit, title=PositionTitle.CHAIR, person=p, started_on=today - dt.timedelta(days=2000),
                                term_ends_on=today - dt.timedelta(days=10))
        BaseCondition.objects.create(unit=unit, lacks_venue=True, lacks_funding=True)
        Venue.objects.create(unit=unit, name=f"{key}妇女之家", kind="womens_home", latest_passed=True, latest_score=90)
        p2 = person_factory(unit=unit, name=f"老{key}")
        VolunteerProfile.objects.create(person=p2, unit=vunit, category="teacher")
        out[key] = {"person": p, "unit": unit}
    return out


def test_numbers_for_county_grant(accounts, tree, data):
    s = queries.dashboard(accounts["party_office"], tree["county"])
    # 示范县 subtree: county, union, women, ggw, town, town_women, village, village_women
    assert s["units_total"] == 8
    assert {r["code"]: r["n"] for r in s["units_by_level"]} == {"county": 4, "township": 2, "village": 2}
    assert s["persons_total"] == 2
    assert s["members_total"] == 1
    assert s["teams"] == {"line_units": 5, "complete": 0, "incomplete": 5, "rate": 0.0, "seats": 1, "expired": 1,
                          "expiring": 0}
    assert s["conditions"]["venue"] == 1 and s["conditions"]["any"] == 1 and s["conditions"]["staff"] == 0
    assert s["venues"]["total"] == 1 and s["venues"]["pass_rate"] == 100.0
    assert s["volunteers_total"] == 1


def test_foreign_subtree_not_counted(accounts, tree, data):
    """邻县 rows exist in the same tables but never reach a 示范县 account — not even when it
    asks for the province (which it can see only through its grant) or for no unit at all."""
    for unit in (None, tree["county"]):
        s = queries.dashboard(accounts["party_office"], unit)
        assert s["persons_total"] == 2 and s["members_total"] == 1 and s["venues"]["total"] == 1
    # the province node lies outside the grant: selecting it through the view is a 404
    from django.test import Client

    c = Client()
    c.force_login(accounts["party_office"])
    client_resp = c.get(reverse("reports:dashboard"), {"unit": tree["other_county"].pk})
    assert client_resp.status_code == 404


def test_line_grant_sees_only_its_line(accounts, tree, data, lines):
    s = queries.dashboard(accounts["union_staff"], tree["county"])
    assert s["members_total"] == 0  # the membership is on the women's line
    assert s["venues"]["total"] == 0
    # region nodes (line-neutral) and the union unit itself are visible
    assert {r["code"] for r in s["units_by_line"]} == {"union", ""}


def test_numbers_change_with_data(accounts, tree, data, lines, person_factory):
    user = accounts["party_office"]
    before = queries.dashboard(user, tree["county"])
    unit = tree["village_women"]
    vice = person_factory(unit=unit, name="副主席")
    Position.objects.create(unit=unit, title=PositionTitle.VICE, person=vice, started_on=dt.date.today())
    Membership.objects.create(person=vice, line=lines["women"], unit=unit)
    Venue.objects.create(unit=unit, name="第二妇女之家", kind="womens_home", latest_passed=False)
    after = queries.dashboard(user, tree["county"])
    assert after["teams"]["complete"] == before["teams"]["complete"] + 1
    assert after["persons_total"] == before["persons_total"] + 1
    assert after["members_total"] == before["members_total"] + 1
    assert after["venues"]["pass_rate"] == 50.0
    # a record merged into another (一人一档) is no longer counted as a person
    Person.objects.filter(pk=vice.pk).update(merged_into=data["in"]["person"])
    assert queries.dashboard(user, tree["county"])["persons_total"] == before["persons_total"]
    # ending the chair's term makes the team incomplete again and clears the expired term
    Position.objects.filter(unit=unit, title=PositionTitle.CHAIR).update(ended_on=dt.date.today())
    again = queries.dashboard(user, tree["county"])
    assert again["teams"]["complete"] == before["teams"]["complete"]
    assert again["teams"]["expired"] == 0


def test_subtree_selection_narrows(accounts, tree, data):
    s = queries.dashboard(accounts["party_office"], tree["town"])
    assert s["units_total"] == 4 and s["persons_total"] == 2
    s = queries.dashboard(accounts["party_office"], tree["union"])
    assert s["units_total"] == 1 and s["persons_total"] == 0


def test_page_query_count_baseline(client_for, accounts, tree, data, django_assert_max_num_queries):
    client = client_for(accounts["party_office"])
    url = reverse("reports:dashboard")
    # session, user, grants (2), scope units, children, lines, 7 aggregates, session save
    with django_assert_max_num_queries(19):
        resp = client.get(url)
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "vendor/echarts/echarts.min.js" in html and "cdn" not in html.lower()
    assert 'data-stat="persons">2<' in html
    with django_assert_max_num_queries(21):
        resp = client.get(url, {"unit": tree["town"].pk, "find": "东风"})
    assert resp.status_code == 200
    assert "东风村" in resp.content.decode()


def test_query_count_independent_of_size(accounts, tree, data, person_factory, django_assert_num_queries):
    user = accounts["party_office"]
    queries.dashboard(user, tree["county"])
    for i in range(5):
        person_factory(unit=tree["village"], name=f"新增{i}")
    with django_assert_num_queries(9):
        queries.dashboard(user, tree["county"])


def test_administrators_refused(client_for, accounts):
    resp = client_for(accounts["auditor"]).get(reverse("reports:dashboard"))
    assert resp.status_code == 403


def _tiny(seed, force=False):
    from qunli import demo

    demo.SCALES["tiny"] = demo.Scale("tiny", 1, 1, 400, townships=2, villages_per_township=3,
                                     volunteers_per_county=20)
    try:
        return demo.generate("tiny", seed=seed, force=force, with_work=False)  # the tree is what is tested
    finally:
        del demo.SCALES["tiny"]


def _snapshot():
    from qunli.people.models import Person

    return (list(Unit.objects.order_by("path").values_list("path", "name", "division_code", "numchild")),
            list(Person.objects.order_by("pk").values_list("name", "id_number_hash", "birth_date", "unit__path")),
            Position.objects.count(), Membership.objects.count(), Venue.objects.count())


def test_generator_tree_consistent_reproducible_and_guarded(db):
    """The generator writes treebeard paths itself: treebeard must find no problem; the same
    seed gives the same data; a database with units is refused unless forced."""
    from qunli import demo
    from qunli.core.identifiers import validate_id_number, validate_uscc

    summary = _tiny(7)
    assert summary["units"] == Unit.objects.count() > 50
    assert all(not problems for problems in Unit.objects.find_problems())
    assert Unit.objects.filter(depth=1).count() == 1
    first = _snapshot()
    person = Person.objects.order_by("pk").first()
    validate_id_number(person.reveal("id_number"))
    for code in Unit.objects.exclude(uscc="").values_list("uscc", flat=True)[:20]:
        validate_uscc(code)
    from qunli.core.models import User

    user = User.objects.get(username="qunban")
    assert user.check_password(demo.DEMO_PASSWORD) and not user.must_change_password
    with pytest.raises(RuntimeError):
        _tiny(7)
    _tiny(7, force=True)
    assert _snapshot() == first
    _tiny(8, force=True)
    assert _snapshot() != first


def _figures(s):
    return {k: s[k] for k in ("units_total", "persons_total", "members_total", "volunteers_total", "teams",
                              "conditions")} | {"venues": s["venues"]["total"]}


def test_no_unit_selected_is_the_grant_area(accounts, tree, data):
    """With no unit selected the queries narrow to the grants' own ranges (index-friendly);
    for a one-grant account that is exactly its grant unit's subtree."""
    for key, unit in (("party_office", "county"), ("women_staff", "county"), ("union_staff", "county"),
                      ("leader", "county"), ("clerk", "village_women")):
        user = accounts[key]
        assert _figures(queries.dashboard(user, None)) == _figures(queries.dashboard(user, tree[unit])), key
    clerk = queries.dashboard(accounts["clerk"], None)
    assert clerk["units_total"] == 1 and clerk["persons_total"] == 2 and clerk["members_total"] == 1
    assert clerk["volunteers_total"] == 0  # registered with the county 关工委, outside the clerk unit


def test_no_unit_selected_spans_every_grant(tree, data):
    """Two grants (two counties) add up; a grant-less account sees nothing."""
    from conftest import grant, make_user

    user = make_user("two-counties")
    grant(user, "leader", tree["county"], all_lines=True)
    grant(user, "leader", tree["other_county"], all_lines=True)
    both = queries.dashboard(user, None)
    one = queries.dashboard(user, tree["county"])
    other = queries.dashboard(user, tree["other_county"])
    assert both["persons_total"] == one["persons_total"] + other["persons_total"] == 4
    assert both["members_total"] == 2 and both["venues"]["total"] == 2 and both["volunteers_total"] == 2
    assert both["units_total"] == one["units_total"] + other["units_total"]
    nobody = queries.dashboard(make_user("no-grants"), None)
    assert nobody["persons_total"] == 0 and nobody["units_total"] == 0 and nobody["members_total"] == 0


def test_members_per_line_equals_plain_recount(accounts, tree, data, lines, person_factory):
    """Members are summed from per-unit subtotals; the figures equal a plain GROUP BY line."""
    from django.db.models import Count

    units = [tree["village_women"], tree["town_women"], tree["union"], tree["county"], tree["other_women"]]
    for i in range(12):
        unit = units[i % len(units)]
        p = person_factory(unit=unit, name=f"会员{i}")
        for j, code in enumerate(("women", "union", "league")[: 1 + i % 3]):
            Membership.objects.create(person=p, line=lines[code], unit=unit,
                                      status="transferred" if (i + j) % 4 == 0 else "active")
    for key in ("party_office", "women_staff", "union_staff", "clerk"):
        user = accounts[key]
        for unit in (None, tree["county"], tree["town"]):
            got = queries.dashboard(user, unit)
            qs = Membership.objects.visible_to(user).filter(status="active")
            if unit is not None:
                qs = qs.filter(unit__path__startswith=unit.path)
            expected = {row["line__code"]: row["n"] for row in qs.values("line__code").annotate(n=Count("id"))}
            assert {r["code"]: r["n"] for r in got["members_by_line"]} == expected, (key, unit)
            assert got["members_total"] == sum(expected.values())


def test_team_figures_equal_plain_recount(accounts, tree, data, person_factory):
    """Teams and terms come from one per-unit pass; they equal the straightforward counts."""
    from django.db.models import Case, Count, Q, Value, When

    from qunli.orgs.models import REQUIRED_SEATS

    today = dt.date.today()
    p = person_factory(unit=tree["town"], name="班子")
    plan = {"women": ["chair", "vice"], "town_women": ["chair", "exec_vice", "vice"], "union": ["vice"],
            "ggw": ["chair"], "county": ["chair", "vice"],  # a region node: never a line unit's team
            "village_women": ["vice"]}
    for key, titles in plan.items():
        for i, title in enumerate(titles):
            Position.objects.create(unit=tree[key], title=title, person=p, started_on=today - dt.timedelta(days=100),
                                    term_ends_on=today + dt.timedelta(days=30 + 200 * i))
    Position.objects.create(unit=tree["union"], title="chair", person=p, started_on=today - dt.timedelta(days=900),
                            ended_on=today - dt.timedelta(days=5))  # ended: not a current seat
    for key in ("party_office", "women_staff", "union_staff", "clerk"):
        user = accounts[key]
        for unit in (None, tree["county"], tree["town"]):
            got = queries.dashboard(user, unit)["teams"]
            current = Position.objects.visible_to(user).filter(ended_on__isnull=True, unit__status="active")
            if unit is not None:
                current = current.filter(unit__path__startswith=unit.path)
            seat = Case(*[When(title__in=t, then=Value(n)) for n, t in REQUIRED_SEATS.items()])
            complete = (current.filter(unit__line__isnull=False).annotate(seat=seat).exclude(seat=None)
                        .values("unit").annotate(k=Count("seat", distinct=True)).filter(k=len(REQUIRED_SEATS))
                        .count())
            terms = current.aggregate(seats=Count("id"), expired=Count("id", filter=Q(term_ends_on__lt=today)),
                                      expiring=Count("id", filter=Q(term_ends_on__gte=today,
                                                                    term_ends_on__lt=today + dt.timedelta(days=180))))
            assert (got["complete"], got["seats"], got["expired"], got["expiring"]) == (
                complete, terms["seats"], terms["expired"], terms["expiring"]), (key, unit)
    # 县妇联, 镇妇联 and 村妇联 (its chair comes from the fixture); not the county region node
    assert queries.dashboard(accounts["party_office"], tree["county"])["teams"]["complete"] == 3
