"""People forms with the unit picker (an out-of-scope unit id is a form error), the cadre
profile form and the membership status form, each writing through its action."""

import datetime as dt

import pytest
from django.urls import reverse

from qunli.core.identifiers import make_id_number
from qunli.core.models import ChangeLog
from qunli.people import actions
from qunli.people.models import CadreProfile, Membership, MembershipStatus, Person, Team, VolunteerProfile

NOT_FOUND = "单位不存在或不在您的权限范围内"


@pytest.fixture
def zhang(tree, person_factory):
    return person_factory(unit=tree["village_women"], name="张秀英")


@pytest.fixture
def membership(accounts, tree, lines, zhang):
    return actions.add_membership(accounts["women_staff"], person=zhang, line=lines["women"],
                                  unit=tree["village_women"], number="FL-9")


# --- the unit picker in the people forms ------------------------------------------------------

@pytest.mark.parametrize("name", ["people:person_add", "people:membership_add", "people:volunteer_add",
                                  "people:team_add"])
def test_add_forms_use_the_unit_picker(client_for, accounts, tree, name):
    body = client_for(accounts["party_office"]).get(reverse(name)).content.decode()
    assert 'id="id_unit_q"' in body and 'type="hidden" name="unit"' in body and '<select name="unit"' not in body
    assert reverse("orgs:unit_picker") in body


def test_person_add_prefilled_unit_shows_its_name_but_a_foreign_one_shows_nothing(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    body = c.get(reverse("people:person_add"), {"unit": tree["town_women"].pk}).content.decode()
    assert "示范县 › 城关镇 › 城关镇妇联" in body
    body = c.get(reverse("people:person_add"), {"unit": tree["other_women"].pk}).content.decode()
    assert "邻县" not in body and "尚未选择单位" in body


def test_person_add_with_an_out_of_scope_unit_is_a_form_error(client_for, accounts, tree):
    number = make_id_number("430121", dt.date(1990, 3, 3), 21)
    r = client_for(accounts["women_staff"]).post(reverse("people:person_add"), {
        "unit": tree["other_women"].pk, "name": "越权登记", "id_number": number, "political_status": "masses"})
    assert r.status_code == 200 and NOT_FOUND in r.content.decode()
    assert not Person.objects.filter(name="越权登记").exists()


def test_membership_volunteer_team_refuse_out_of_scope_units(client_for, accounts, tree, lines, zhang):
    c = client_for(accounts["women_staff"])
    r = c.post(reverse("people:membership_add"), {"person": zhang.pk, "line": lines["women"].pk,
                                                  "unit": tree["other_women"].pk})
    assert r.status_code == 200 and NOT_FOUND in r.content.decode()
    # Another line's unit inside the county is out of reach of the women's line too.
    r = c.post(reverse("people:volunteer_add"), {"person": zhang.pk, "unit": tree["ggw"].pk, "category": "teacher"})
    assert r.status_code == 200 and NOT_FOUND in r.content.decode()
    r = c.post(reverse("people:team_add"), {"unit": tree["other_women"].pk, "name": "越权队", "kind": "lecture"})
    assert r.status_code == 200 and NOT_FOUND in r.content.decode()
    assert not Membership.objects.exists() and not VolunteerProfile.objects.exists()
    assert not Team.objects.filter(name="越权队").exists()


def test_membership_picker_offers_only_line_units(accounts, tree):
    from qunli.people.forms import MembershipForm

    field = MembershipForm(user=accounts["women_staff"]).fields["unit"]
    names = set(field.queryset.values_list("name", flat=True))
    assert "城关镇妇联" in names and "城关镇" not in names and "邻县妇联" not in names


# --- cadre profile ------------------------------------------------------------------------------

def test_cadre_form_sets_the_profile_through_the_action(client_for, accounts, tree, zhang):
    c = client_for(accounts["women_staff"])
    url = reverse("people:person_cadre", args=[zhang.pk])
    r = c.get(url)
    body = r.content.decode()
    assert r.status_code == 200 and 'id="id_unit_q"' in body and "基层工作年限" in body
    r = c.post(url, {"unit": tree["town_women"].pk, "post": "妇联主席", "source": "elected", "is_fulltime": "on",
                     "grassroots_years": "6"})
    assert r.status_code == 302 and r["Location"].endswith("?tab=roles")
    profile = CadreProfile.objects.get(person=zhang)
    assert profile.unit_id == tree["town_women"].pk and profile.post == "妇联主席" and profile.grassroots_years == 6
    assert ChangeLog.objects.filter(action="people.set_cadre_profile", object_id=str(profile.pk)).exists()
    # Editing shows the current values and changes them.
    body = c.get(url).content.decode()
    assert 'value="妇联主席"' in body and "城关镇妇联" in body
    r = c.post(url, {"unit": tree["village_women"].pk, "post": "妇联副主席", "source": "appointed",
                     "grassroots_years": "7"})
    assert r.status_code == 302
    profile.refresh_from_db()
    assert profile.unit_id == tree["village_women"].pk and not profile.is_fulltime
    assert ChangeLog.objects.filter(action="people.set_cadre_profile").count() == 2


def test_cadre_form_refuses_bad_input_and_foreign_units(client_for, accounts, tree, zhang):
    c = client_for(accounts["women_staff"])
    url = reverse("people:person_cadre", args=[zhang.pk])
    r = c.post(url, {"unit": tree["other_women"].pk, "post": "主席", "source": "elected", "grassroots_years": "1"})
    assert r.status_code == 200 and NOT_FOUND in r.content.decode()
    r = c.post(url, {"unit": tree["town_women"].pk, "post": "", "source": "elected", "grassroots_years": "-1"})
    body = r.content.decode()
    assert r.status_code == 200 and "请填写“" in body and "不能小于 0" in body
    assert not CadreProfile.objects.exists() and not ChangeLog.objects.filter(action="people.set_cadre_profile")


def test_cadre_profile_held_by_another_line_cannot_be_overwritten(client_for, accounts, tree, zhang):
    actions.set_cadre_profile(accounts["party_office"], person=zhang, unit=tree["union"], post="工会副主席")
    r = client_for(accounts["women_staff"]).post(reverse("people:person_cadre", args=[zhang.pk]), {
        "unit": tree["town_women"].pk, "post": "妇联主席", "source": "elected", "grassroots_years": "1"})
    assert r.status_code == 200 and "权限范围以外的单位管理" in r.content.decode()
    assert CadreProfile.objects.get(person=zhang).unit_id == tree["union"].pk


def test_cadre_form_is_404_outside_the_grant_and_403_read_only(client_for, accounts, tree, person_factory, zhang):
    outsider = person_factory(unit=tree["other_women"], name="邻县人")
    assert client_for(accounts["women_staff"]).get(
        reverse("people:person_cadre", args=[outsider.pk])).status_code == 404
    assert client_for(accounts["leader"]).get(reverse("people:person_cadre", args=[zhang.pk])).status_code == 403


# --- membership status --------------------------------------------------------------------------

def test_membership_status_form_changes_the_status_through_the_action(client_for, accounts, membership):
    c = client_for(accounts["women_staff"])
    url = reverse("people:membership_status", args=[membership.pk])
    body = c.get(url).content.decode()
    assert "已转出" in body and "张秀英" in body
    r = c.post(url, {"status": MembershipStatus.TRANSFERRED})
    assert r.status_code == 302 and r["Location"] == membership.get_absolute_url()
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.TRANSFERRED
    assert ChangeLog.objects.filter(action="people.set_membership_status", object_id=str(membership.pk)).exists()


def test_membership_status_form_refuses_bad_or_unchanged_status(client_for, accounts, membership):
    c = client_for(accounts["women_staff"])
    url = reverse("people:membership_status", args=[membership.pk])
    r = c.post(url, {"status": "expelled"})
    assert r.status_code == 200 and "的选项无效，请重新选择" in r.content.decode()
    r = c.post(url, {"status": MembershipStatus.ACTIVE})
    assert r.status_code == 200 and "状态未改变" in r.content.decode()
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    assert not ChangeLog.objects.filter(action="people.set_membership_status").exists()


def test_membership_status_is_404_for_another_line_and_403_read_only(client_for, accounts, tree, lines, zhang,
                                                                    membership):
    union = actions.add_membership(accounts["party_office"], person=zhang, line=lines["union"], unit=tree["union"])
    assert client_for(accounts["women_staff"]).get(
        reverse("people:membership_status", args=[union.pk])).status_code == 404
    assert client_for(accounts["leader"]).post(reverse("people:membership_status", args=[membership.pk]),
                                               {"status": "lapsed"}).status_code == 403
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE


def test_person_detail_links_the_cadre_and_status_forms(client_for, accounts, tree, lines, zhang, membership):
    union = actions.add_membership(accounts["party_office"], person=zhang, line=lines["union"], unit=tree["union"])
    body = client_for(accounts["party_office"]).get(zhang.get_absolute_url(), {"tab": "roles"}).content.decode()
    assert reverse("people:person_cadre", args=[zhang.pk]) in body
    assert reverse("people:membership_status", args=[membership.pk]) in body
    assert reverse("people:membership_status", args=[union.pk]) in body
    body = client_for(accounts["women_staff"]).get(zhang.get_absolute_url(), {"tab": "roles"}).content.decode()
    assert reverse("people:membership_status", args=[membership.pk]) in body
    assert reverse("people:membership_status", args=[union.pk]) not in body
    body = client_for(accounts["leader"]).get(zhang.get_absolute_url(), {"tab": "roles"}).content.decode()
    assert reverse("people:membership_status", args=[membership.pk]) not in body
    assert reverse("people:person_cadre", args=[zhang.pk]) not in body


@pytest.mark.parametrize("name", ["people:person_add", "people:membership_add", "people:volunteer_add",
                                  "people:team_add"])
def test_add_form_query_count_stays_flat(client_for, accounts, tree, name, django_assert_max_num_queries):
    c = client_for(accounts["party_office"])
    with django_assert_max_num_queries(10):
        assert c.get(reverse(name), {"unit": tree["town_women"].pk}).status_code == 200


def test_cadre_and_status_forms_query_count_stays_flat(client_for, accounts, tree, zhang, membership,
                                                       django_assert_max_num_queries):
    actions.set_cadre_profile(accounts["party_office"], person=zhang, unit=tree["town_women"], post="主席")
    c = client_for(accounts["party_office"])
    with django_assert_max_num_queries(12):
        assert c.get(reverse("people:person_cadre", args=[zhang.pk])).status_code == 200
    with django_assert_max_num_queries(10):
        assert c.get(reverse("people:membership_status", args=[membership.pk])).status_code == 200
