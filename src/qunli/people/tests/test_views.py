"""The people pages: masked lists, the access-logged reveal, forms that write through the
actions, and query-count ceilings so an N+1 cannot ship."""

import datetime as dt

import pytest
from django.urls import reverse

from qunli.core.identifiers import make_id_number
from qunli.core.models import AccessLog, ChangeLog
from qunli.people import actions
from qunli.people.models import Membership, Person, Team, TeamMember, VolunteerProfile

ID = make_id_number("430121", dt.date(1975, 5, 5), 77)


@pytest.fixture
def zhang(tree, person_factory):
    return person_factory(unit=tree["village_women"], name="张秀英", id_number=ID, phone="13812345678")


@pytest.fixture
def outsider(tree, person_factory):
    return person_factory(unit=tree["other_women"], name="邻县人")


# --- list and search ------------------------------------------------------------------

def test_person_list_shows_masked_identity_only(client_for, accounts, zhang, outsider):
    body = client_for(accounts["women_staff"]).get(reverse("people:person_list")).content.decode()
    assert "张秀英" in body and zhang.id_number_mask in body and "138****5678" in body
    assert ID not in body and "13812345678" not in body
    assert "邻县人" not in body


def test_person_list_finds_an_exact_id_number_through_the_blind_index(client_for, accounts, zhang, person_factory):
    person_factory(name="李四")
    c = client_for(accounts["women_staff"])
    body = c.get(reverse("people:person_list"), {"q": ID}).content.decode()
    assert "张秀英" in body and "李四" not in body
    body = c.get(reverse("people:person_list"), {"q": ID[:10]}).content.decode()
    assert "张秀英" not in body  # a partial number matches nothing: only exact look-ups are possible
    assert "张秀英" in c.get(reverse("people:person_list"), {"q": "秀英"}).content.decode()


def test_person_list_filters_volunteers(client_for, accounts, tree, zhang, person_factory):
    person_factory(name="非志愿者")
    actions.register_volunteer(accounts["party_office"], person=zhang, unit=tree["ggw"], category="teacher")
    body = client_for(accounts["party_office"]).get(reverse("people:person_list"), {"volunteer": "1"}).content.decode()
    assert "张秀英" in body and "非志愿者" not in body


def test_person_pick_offers_only_visible_people(client_for, accounts, zhang, outsider):
    c = client_for(accounts["women_staff"])
    assert "张秀英" in c.get(reverse("people:person_pick"), {"q": "张"}).content.decode()
    assert "邻县人" not in c.get(reverse("people:person_pick"), {"q": "邻县"}).content.decode()


# --- detail and reveal ----------------------------------------------------------------

@pytest.mark.parametrize("tab", ["detail", "roles", "history"])
def test_person_detail_tab_renders_for_an_allowed_account(client_for, accounts, zhang, tab):
    r = client_for(accounts["women_staff"]).get(zhang.get_absolute_url(), {"tab": tab})
    assert r.status_code == 200 and "张秀英" in r.content.decode()
    assert ID not in r.content.decode()


def test_person_detail_outside_the_grant_is_404(client_for, accounts, outsider):
    assert client_for(accounts["women_staff"]).get(outsider.get_absolute_url()).status_code == 404


def test_reveal_shows_plaintext_and_writes_the_access_log(client_for, accounts, zhang):
    r = client_for(accounts["women_staff"]).post(reverse("people:person_reveal", args=[zhang.pk]),
                                                 {"purpose": "核实身份"}, HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert r.status_code == 200 and ID in body and "13812345678" in body
    log = AccessLog.objects.get(object_id=str(zhang.pk))
    assert log.actor == accounts["women_staff"] and "id_number" in log.fields and log.purpose == "核实身份"


def test_reveal_is_refused_to_a_read_only_leader_and_logs_nothing(client_for, accounts, zhang):
    c = client_for(accounts["leader"])
    assert c.get(zhang.get_absolute_url()).status_code == 200
    assert "显示完整信息" not in c.get(zhang.get_absolute_url()).content.decode()
    r = c.post(reverse("people:person_reveal", args=[zhang.pk]))
    assert r.status_code == 403 and ID not in r.content.decode()
    assert not AccessLog.objects.exists()


def test_reveal_needs_a_post_and_a_person_inside_the_grant(client_for, accounts, zhang, outsider):
    c = client_for(accounts["women_staff"])
    assert c.get(reverse("people:person_reveal", args=[zhang.pk])).status_code == 405
    assert c.post(reverse("people:person_reveal", args=[outsider.pk])).status_code == 404
    assert not AccessLog.objects.exists()


# --- add, edit, merge -----------------------------------------------------------------

def test_person_add_registers_through_the_action(client_for, accounts, tree):
    number = make_id_number("430121", dt.date(1990, 3, 3), 12)
    c = client_for(accounts["women_staff"])
    assert c.get(reverse("people:person_add")).status_code == 200
    r = c.post(reverse("people:person_add"), {"unit": tree["town_women"].pk, "name": "周敏", "id_number": number,
                                              "phone": "13900001111", "political_status": "masses"})
    person = Person.objects.get(name="周敏")
    assert r.status_code == 302 and r["Location"] == person.get_absolute_url()
    assert person.birth_date == dt.date(1990, 3, 3) and person.reveal("id_number") == number
    assert ChangeLog.objects.filter(action="people.register_person", object_id=str(person.pk)).exists()


def test_person_add_rejects_a_bad_id_number_as_a_form_error(client_for, accounts, tree):
    r = client_for(accounts["women_staff"]).post(reverse("people:person_add"), {
        "unit": tree["town_women"].pk, "name": "错号", "id_number": "430121199003031234"})
    assert r.status_code == 200 and "校验位" in r.content.decode()
    assert not Person.objects.filter(name="错号").exists()


def test_possible_duplicate_needs_the_not_same_person_checkbox(client_for, accounts, tree, person_factory):
    p = Person(unit=tree["village_women"], name="王芳")
    p.set_sensitive("phone", "13700002222")
    p.save()
    c = client_for(accounts["women_staff"])
    data = {"unit": tree["town_women"].pk, "name": "王芳", "phone": "13700002222"}
    r = c.post(reverse("people:person_add"), data)
    body = r.content.decode()
    assert r.status_code == 200 and "可能是同一人" in body and "确认不是同一人" in body and 'type="checkbox"' in body
    assert Person.objects.filter(name="王芳").count() == 1
    r = c.post(reverse("people:person_add"), {**data, "allow_similar": "on"})
    assert r.status_code == 302 and Person.objects.filter(name="王芳").count() == 2


def test_person_edit_updates_and_keeps_blank_sensitive_fields(client_for, accounts, zhang):
    c = client_for(accounts["women_staff"])
    url = reverse("people:person_edit", args=[zhang.pk])
    assert c.get(url).status_code == 200
    r = c.post(url, {"name": "张秀英", "workplace": "东风村妇联主席", "political_status": "cpc", "ethnicity": "汉族"})
    assert r.status_code == 302
    zhang.refresh_from_db()
    assert zhang.workplace == "东风村妇联主席" and zhang.reveal("phone") == "13812345678"
    assert ChangeLog.objects.filter(action="people.update_person", object_id=str(zhang.pk)).exists()


def test_person_edit_is_forbidden_to_a_read_only_leader(client_for, accounts, zhang):
    assert client_for(accounts["leader"]).get(reverse("people:person_edit", args=[zhang.pk])).status_code == 403


def test_merge_tool_lists_duplicates_and_merges_them(client_for, accounts, tree):
    twins = []
    for unit in (tree["village_women"], tree["town_women"]):
        p = Person(unit=unit, name="刘梅")
        p.set_sensitive("phone", "13600003333")
        p.save()
        twins.append(p)
    c = client_for(accounts["women_staff"])
    body = c.get(reverse("people:person_merge")).content.decode()
    assert "刘梅" in body and f"编号 {twins[1].pk}" in body
    r = c.post(reverse("people:person_merge"), {"keep": twins[0].pk, "duplicate": twins[1].pk, "reason": "重复登记",
                                                "confirm": "on"})
    assert r.status_code == 302
    assert Person.objects.get(pk=twins[1].pk).merged_into_id == twins[0].pk
    assert ChangeLog.objects.filter(action="people.merge_persons").exists()


# --- roles ----------------------------------------------------------------------------

def test_membership_list_and_add_form(client_for, accounts, tree, lines, zhang):
    c = client_for(accounts["women_staff"])
    assert c.get(reverse("people:membership_add")).status_code == 200
    r = c.post(reverse("people:membership_add"), {"person": zhang.pk, "line": lines["women"].pk,
                                                  "unit": tree["village_women"].pk, "number": "FL-001"})
    assert r.status_code == 302
    m = Membership.objects.get(person=zhang)
    assert ChangeLog.objects.filter(action="people.add_membership", object_id=str(m.pk)).exists()
    body = c.get(reverse("people:membership_list")).content.decode()
    assert "FL-001" in body and ID not in body


def test_membership_add_shows_line_mismatch_as_a_form_error(client_for, accounts, tree, lines, zhang):
    r = client_for(accounts["party_office"]).post(reverse("people:membership_add"), {
        "person": zhang.pk, "line": lines["union"].pk, "unit": tree["village_women"].pk})
    assert r.status_code == 200 and "不能登记" in r.content.decode()


def test_volunteer_register_list_filter_and_detail_records(client_for, accounts, tree, zhang):
    c = client_for(accounts["party_office"])
    r = c.post(reverse("people:volunteer_add"), {"person": zhang.pk, "unit": tree["ggw"].pk, "category": "teacher",
                                                 "skills": "书法"})
    v = VolunteerProfile.objects.get(person=zhang)
    assert r.status_code == 302 and r["Location"] == v.get_absolute_url()
    assert "张秀英" in c.get(reverse("people:volunteer_list"), {"category": "teacher"}).content.decode()
    assert "张秀英" not in c.get(reverse("people:volunteer_list"), {"category": "soldier"}).content.decode()
    assert c.get(v.get_absolute_url()).status_code == 200
    assert c.post(reverse("people:volunteer_training_add", args=[v.pk]),
                  {"t-on": "2026-04-01", "t-title": "家庭教育指导", "t-hours": "4"}).status_code == 302
    assert c.post(reverse("people:volunteer_recognition_add", args=[v.pk]),
                  {"r-on": "2026-05-01", "r-title": "十佳五老", "r-level": "县级"}).status_code == 302
    body = c.get(v.get_absolute_url()).content.decode()
    assert "家庭教育指导" in body and "十佳五老" in body
    assert ChangeLog.objects.filter(action="people.add_training").exists()


def test_volunteer_outside_the_grant_is_404(client_for, accounts, tree, outsider):
    # Registered by a county-wide account outside both test counties' grants is impossible, so write directly.
    v = VolunteerProfile.objects.create(person=outsider, unit=tree["other_county"], category="teacher")
    assert client_for(accounts["party_office"]).get(v.get_absolute_url()).status_code == 404


def test_team_create_add_and_remove_members(client_for, accounts, tree, zhang, person_factory):
    c = client_for(accounts["party_office"])
    r = c.post(reverse("people:team_add"), {"unit": tree["ggw"].pk, "name": "五老宣讲团", "kind": "lecture",
                                            "leader": zhang.pk})
    team = Team.objects.get(name="五老宣讲团")
    assert r.status_code == 302 and team.leader_id == zhang.pk
    assert "五老宣讲团" in c.get(reverse("people:team_list")).content.decode()
    r = c.post(reverse("people:team_member_add", args=[team.pk]), {"person": zhang.pk, "role": "团长"})
    assert r.status_code == 302 and TeamMember.objects.filter(team=team, person=zhang).exists()
    assert "团长" in c.get(team.get_absolute_url()).content.decode()
    member = TeamMember.objects.get(team=team, person=zhang)
    assert c.post(reverse("people:team_member_remove", args=[team.pk]), {"member": member.pk}).status_code == 302
    assert not TeamMember.objects.filter(team=team).exists()
    assert ChangeLog.objects.filter(action="people.remove_team_member").exists()


def test_team_outside_the_grant_is_404_and_read_only_cannot_remove(client_for, accounts, tree, zhang):
    team = Team.objects.create(unit=tree["other_county"], name="邻县团", kind="lecture")
    assert client_for(accounts["party_office"]).get(team.get_absolute_url()).status_code == 404
    own = actions.create_team(accounts["party_office"], unit=tree["ggw"], name="本县团", kind="lecture")
    tm = actions.add_team_member(accounts["party_office"], own, zhang)
    r = client_for(accounts["leader"]).post(reverse("people:team_member_remove", args=[own.pk]), {"member": tm.pk})
    assert r.status_code == 403 and TeamMember.objects.filter(pk=tm.pk).exists()


# --- query-count ceilings (about twenty rows each) ------------------------------------

@pytest.fixture
def crowd(tree, accounts, lines, person_factory):
    staff = accounts["party_office"]
    team = actions.create_team(staff, unit=tree["ggw"], name="关爱指导团", kind="care")
    people = []
    for i in range(20):
        p = person_factory(unit=tree["village_women"] if i % 2 else tree["town_women"], name=f"成员{i}",
                           phone=f"1380000{i:04d}")
        actions.add_membership(staff, person=p, line=lines["women"], unit=p.unit, number=f"N{i}")
        v = actions.register_volunteer(staff, person=p, unit=tree["ggw"], category="teacher")
        actions.add_training(staff, v, on=dt.date(2026, 1, 1), title="培训", hours=2)
        actions.add_team_member(staff, team, p)
        people.append(p)
    hub = people[0]
    actions.add_membership(staff, person=hub, line=lines["union"], unit=tree["union"])
    for i in range(20):
        actions.add_training(staff, hub.volunteer, on=dt.date(2025, 1, 1 + i), title=f"课程{i}")
        actions.add_recognition(staff, hub.volunteer, on=dt.date(2025, 2, 1 + i), title=f"荣誉{i}")
        t = actions.create_team(staff, unit=tree["ggw"], name=f"队{i}", kind="other")
        actions.add_team_member(staff, t, hub)
    return {"team": team, "people": people, "hub": hub}


@pytest.mark.parametrize("name", ["people:person_list", "people:membership_list", "people:volunteer_list",
                                  "people:team_list", "people:person_merge"])
def test_list_query_count_stays_flat(client_for, accounts, crowd, django_assert_max_num_queries, name):
    c = client_for(accounts["party_office"])
    with django_assert_max_num_queries(12):
        r = c.get(reverse(name))
    assert r.status_code == 200


@pytest.mark.parametrize("tab", ["detail", "roles", "history"])
def test_person_detail_query_count_stays_flat(client_for, accounts, crowd, django_assert_max_num_queries, tab):
    c = client_for(accounts["party_office"])
    with django_assert_max_num_queries(16):
        r = c.get(crowd["hub"].get_absolute_url(), {"tab": tab})
    assert r.status_code == 200


def test_volunteer_and_team_detail_query_count_stays_flat(client_for, accounts, crowd, django_assert_max_num_queries):
    c = client_for(accounts["party_office"])
    with django_assert_max_num_queries(12):
        assert c.get(crowd["hub"].volunteer.get_absolute_url()).status_code == 200
    with django_assert_max_num_queries(12):
        assert c.get(crowd["team"].get_absolute_url()).status_code == 200
