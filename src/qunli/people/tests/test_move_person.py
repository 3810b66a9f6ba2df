"""调整登记单位: a person's registration moves to another unit; roles stay where they are."""

import datetime as dt

import pytest
from django.urls import reverse

from conftest import add_unit, chinese_error, grant, make_user
from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog
from qunli.orgs.models import Level
from qunli.people import actions
from qunli.people.models import Membership, Person

pytestmark = pytest.mark.django_db


def page(r) -> str:
    return r.content.decode()


@pytest.fixture
def second_village(tree, lines):
    village = add_unit(tree["town"], name="西岭村", level=Level.VILLAGE)
    return add_unit(village, name="西岭村妇联", level=Level.VILLAGE, line=lines["women"])


def test_staff_move_a_person_to_another_unit_with_a_reason_logged(accounts, tree, person_factory, second_village):
    person = person_factory()
    actions.move_person(accounts["women_staff"], person, unit=second_village, reason="迁居西岭村")
    person.refresh_from_db()
    assert person.unit_id == second_village.pk
    row = ChangeLog.objects.get(action="people.move_person", object_id=str(person.pk))
    assert row.before["unit_id"] == tree["village_women"].pk
    assert row.after["unit_id"] == second_village.pk and row.after["reason"] == "迁居西岭村"


def test_moving_keeps_memberships_at_their_own_units(accounts, tree, lines, person_factory, second_village):
    person = person_factory()
    membership = actions.add_membership(accounts["women_staff"], person=person, line=lines["women"],
                                        unit=tree["village_women"], joined_on=dt.date(2020, 3, 1))
    actions.move_person(accounts["women_staff"], person, unit=second_village, reason="迁居")
    assert Membership.objects.get(pk=membership.pk).unit_id == tree["village_women"].pk


@pytest.mark.parametrize("reason", ["", " ", "迁"])
def test_moving_without_a_reason_is_refused(accounts, person_factory, second_village, reason):
    person = person_factory()
    with pytest.raises(ActionError, match="调整原因"):
        actions.move_person(accounts["women_staff"], person, unit=second_village, reason=reason)
    assert Person.objects.get(pk=person.pk).unit_id != second_village.pk


def test_moving_to_the_same_unit_or_an_ended_one_is_refused(accounts, tree, person_factory, second_village):
    person = person_factory()
    with pytest.raises(ActionError, match="已登记在"):
        actions.move_person(accounts["women_staff"], person, unit=tree["village_women"], reason="迁居")
    second_village.status = "dissolved"
    second_village.save(update_fields=["status"])
    with pytest.raises(ActionError, match="不能再登记人员"):
        actions.move_person(accounts["women_staff"], person, unit=second_village, reason="迁居")


def test_moving_out_of_reach_needs_the_level_above_both(accounts, tree, lines, person_factory):
    """A township's staff cannot send a person to another township's unit (it would lose the
    record and write into a unit it does not manage); the county, above both, can."""
    other_town = add_unit(tree["county"], name="河西镇", level=Level.TOWNSHIP)
    target = add_unit(other_town, name="河西镇妇联", level=Level.TOWNSHIP, line=lines["women"])
    town_staff = make_user("zhengzhen")
    grant(town_staff, "staff", tree["town"], lines=[lines["women"]])
    person = person_factory()
    with pytest.raises(Exception, match="权限"):
        actions.move_person(town_staff, person, unit=target, reason="迁居河西镇")
    assert Person.objects.get(pk=person.pk).unit_id == tree["village_women"].pk
    actions.move_person(accounts["women_staff"], person, unit=target, reason="迁居河西镇")
    assert Person.objects.get(pk=person.pk).unit_id == target.pk


def test_move_page_moves_and_the_history_tab_names_both_units(client_for, accounts, tree, person_factory,
                                                               second_village):
    person = person_factory()
    client = client_for(accounts["women_staff"])
    detail = client.get(reverse("people:person_detail", args=[person.pk]))
    assert reverse("people:person_move", args=[person.pk]) in page(detail)
    r = client.post(reverse("people:person_move", args=[person.pk]), {"unit": second_village.pk, "reason": "转学"})
    assert r.status_code == 302
    history = page(client.get(reverse("people:person_detail", args=[person.pk]) + "?tab=history"))
    assert "调整登记单位" in history and "东风村妇联" in history and "西岭村妇联" in history and "原因" in history


def test_move_page_is_read_only_for_a_leader_and_404_outside_the_grant(client_for, accounts, tree, person_factory):
    person = person_factory()
    assert client_for(accounts["leader"]).get(reverse("people:person_move", args=[person.pk])).status_code == 403
    foreign = person_factory(unit=tree["other_women"])
    assert client_for(accounts["women_staff"]).get(reverse("people:person_move", args=[foreign.pk])).status_code == 404


def test_move_page_refuses_a_unit_outside_the_grant_and_changes_nothing(client_for, accounts, tree, person_factory):
    person = person_factory()
    r = client_for(accounts["women_staff"]).post(reverse("people:person_move", args=[person.pk]),
                                                 {"unit": tree["other_women"].pk, "reason": "迁居"})
    assert r.status_code == 200 and "不在您的" in page(r)
    assert Person.objects.get(pk=person.pk).unit_id == tree["village_women"].pk


def test_api_moves_a_person_and_refuses_a_foreign_unit(client, accounts, tree, person_factory, second_village):
    from qunli.core.actions import issue_api_token

    person = person_factory()
    token = issue_api_token(accounts["women_staff"], accounts["women_staff"], "test")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    url = f"/api/people/persons/{person.pk}/move"
    r = client.post(url, {"unit_id": tree["other_women"].pk, "reason": "迁居"}, content_type="application/json", **auth)
    assert "不在您的数据范围内" in chinese_error(r, 400)[0]
    r = client.post(url, {"unit_id": second_village.pk, "reason": "迁居"}, content_type="application/json", **auth)
    assert r.status_code == 200 and r.json()["unit_id"] == second_village.pk
