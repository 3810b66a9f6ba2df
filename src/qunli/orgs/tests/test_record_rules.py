"""What a real registry refuses: new records on a merged, split or dissolved unit (its old
records stay), dates of things done that lie in the future, a 五老 volunteer who is a child
or registered under another line's organization, and a unit put in a line its editor does
not hold. Each refusal is a Chinese message and writes nothing."""

import datetime as dt

import pytest

from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog
from qunli.orgs import actions
from qunli.orgs.models import Checklist, Position, Venue
from qunli.people import actions as people_actions
from qunli.people.models import Membership, VolunteerProfile

pytestmark = pytest.mark.django_db
TOMORROW = dt.date.today() + dt.timedelta(days=1)


@pytest.fixture
def dissolved(accounts, tree):
    actions.dissolve_unit(accounts["women_staff"], tree["village_women"])
    tree["village_women"].refresh_from_db()
    return tree["village_women"]


def test_a_dissolved_unit_takes_no_new_positions_venues_conditions_or_members(accounts, dissolved, person_factory,
                                                                               lines):
    staff = accounts["women_staff"]
    person = person_factory(unit=dissolved)
    before = ChangeLog.objects.count()
    with pytest.raises(ActionError, match="“东风村妇联”已撤销，不能再任职"):
        actions.appoint(staff, unit=dissolved, person=person, title="chair", started_on=dt.date(2024, 1, 1))
    with pytest.raises(ActionError, match="不能再新增阵地"):
        actions.create_venue(staff, unit=dissolved, name="妇女之家", kind="womens_home")
    with pytest.raises(ActionError, match="不能再填报基础条件"):
        actions.set_conditions(staff, dissolved, lacks_staff=True)
    with pytest.raises(ActionError, match="不能再登记会员"):
        people_actions.add_membership(staff, person=person, line=lines["women"], unit=dissolved)
    assert ChangeLog.objects.count() == before and not Position.objects.exists() and not Venue.objects.exists()
    assert not Membership.objects.exists()


def test_an_ended_unit_is_named_once_in_the_refusal(accounts, dissolved):
    with pytest.raises(ActionError) as e:
        actions.dissolve_unit(accounts["women_staff"], dissolved)
    assert e.value.messages == ["“东风村妇联”已撤销，不能再办理。"]  # not 已已撤销


def test_dates_of_things_done_cannot_lie_in_the_future(accounts, tree, person_factory, lines):
    staff = accounts["women_staff"]
    person = person_factory(unit=tree["village_women"])
    pos = actions.appoint(staff, unit=tree["village_women"], person=person, title="chair",
                          started_on=dt.date(2024, 1, 1))
    with pytest.raises(ActionError, match="离任日期不能晚于今天"):
        actions.end_position(staff, pos, on=TOMORROW, reason="调动", confirm_early=True)
    assert Position.objects.get(pk=pos.pk).ended_on is None
    with pytest.raises(ActionError, match="加入日期不能晚于今天"):
        people_actions.add_membership(staff, person=person, line=lines["women"], unit=tree["village_women"],
                                      joined_on=TOMORROW)
    with pytest.raises(ActionError, match="成立日期不能晚于今天"):
        actions.update_unit(staff, tree["village_women"], established_on=TOMORROW)
    venue = actions.create_venue(staff, unit=tree["village_women"], name="妇女之家", kind="womens_home")
    checklist = Checklist.objects.create(name="妇女之家五有", venue_kinds=["womens_home"], pass_score=60)
    with pytest.raises(ActionError, match="检查日期不能晚于今天"):
        actions.record_inspection(staff, venue, checklist=checklist, on=TOMORROW, inspector="县妇联", met_item_ids=[])
    assert not venue.inspections.exists()


def test_a_wulao_volunteer_is_no_child_and_belongs_to_a_care_committee(accounts, tree, person_factory):
    office = accounts["party_office"]
    child = person_factory(unit=tree["village_women"], name="黄天佑")
    child.birth_date = dt.date.today().replace(year=dt.date.today().year - 9)
    child.save()
    with pytest.raises(ActionError, match="黄天佑现年9岁"):
        people_actions.register_volunteer(office, person=child, unit=tree["ggw"], category="teacher")
    elder = person_factory(unit=tree["village_women"], name="王老师")
    elder.birth_date = dt.date(1955, 3, 1)
    elder.save()
    with pytest.raises(ActionError, match="五老志愿者登记在关工委组织下，“示范县总工会”属于"):
        people_actions.register_volunteer(office, person=elder, unit=tree["union"], category="teacher")
    assert not VolunteerProfile.objects.exists()
    assert people_actions.register_volunteer(office, person=elder, unit=tree["ggw"], category="teacher").pk


def test_merging_ends_the_班子_and_moves_members_and_people_to_the_successor(accounts, tree, person_factory, lines,
                                                                         client_for):
    staff = accounts["women_staff"]
    old, into = tree["village_women"], tree["town_women"]
    chair = person_factory(unit=old, name="蒋娜")
    both = person_factory(unit=old, name="李梅")
    pos = actions.appoint(staff, unit=old, person=chair, title="chair", started_on=dt.date(2024, 1, 1))
    people_actions.add_membership(staff, person=chair, line=lines["women"], unit=old)
    people_actions.add_membership(staff, person=both, line=lines["women"], unit=old)
    people_actions.add_membership(staff, person=both, line=lines["women"], unit=into)  # already a member there
    page = client_for(staff).get(f"/orgs/units/{old.pk}/merge/").content.decode()
    assert "在任班子成员 1 人将于变动日期离任；在册会员 2 人转入并入单位" in page
    actions.merge_unit(staff, old, into, on=dt.date(2025, 6, 30))
    pos.refresh_from_db()
    assert pos.ended_on == dt.date(2025, 6, 30) and pos.end_reason == "单位已合并" and not pos.ended_early
    statuses = {(m.person.name, m.unit_id, m.status) for m in Membership.objects.select_related("person")}
    assert statuses == {("蒋娜", into.pk, "active"), ("李梅", into.pk, "active"), ("李梅", old.pk, "transferred")}
    assert set(chair.__class__.objects.filter(pk__in=[chair.pk, both.pk]).values_list("unit_id", flat=True)) == {into.pk}
    log = ChangeLog.objects.get(action="orgs.wind_up_unit")
    assert log.after["members_moved"] == 1 and log.after["members_transferred"] == 1 and log.after["persons_moved"] == 2


def test_dissolving_ends_the_班子_and_marks_members_transferred(accounts, tree, person_factory, lines):
    staff = accounts["women_staff"]
    unit = tree["village_women"]
    p = person_factory(unit=unit)
    actions.appoint(staff, unit=unit, person=p, title="chair", started_on=dt.date(2024, 1, 1))
    people_actions.add_membership(staff, person=p, line=lines["women"], unit=unit)
    actions.dissolve_unit(staff, unit)
    assert not Position.objects.filter(ended_on__isnull=True).exists()
    assert Membership.objects.get().status == "transferred"
    assert chair_unit(p) == unit.pk  # registration stays (reachable under the same region)


def chair_unit(person):
    person.refresh_from_db()
    return person.unit_id


def test_a_grassroots_clerk_keeps_its_unit_but_does_not_restructure_the_tree(accounts, tree, client_for):
    from django.core.exceptions import PermissionDenied

    clerk, unit = accounts["clerk"], tree["village_women"]
    with pytest.raises(PermissionDenied, match="基层填报员只能维护本单位的信息"):
        actions.create_unit(clerk, parent=unit, name="东风村妇联第五网格", level="group")
    with pytest.raises(PermissionDenied):
        actions.dissolve_unit(clerk, unit)
    assert actions.update_unit(clerk, unit, address="东风村村委会").address == "东风村村委会"  # its own data
    page = client_for(clerk).get(f"/orgs/units/{unit.pk}/").content.decode()
    assert "修改</a>" in page and "新增下级" not in page and "撤销</a>" not in page and "合并</a>" not in page


def test_the_history_tab_reads_field_by_field_with_names_and_includes_the_team(accounts, tree, person_factory,
                                                                                client_for):
    staff = accounts["women_staff"]
    staff.display_name = "县妇联王敏"
    staff.save()
    unit = tree["village_women"]
    actions.update_unit(staff, unit, address="东风村村委会")
    actions.appoint(staff, unit=unit, person=person_factory(unit=unit, name="蒋娜"), title="chair",
                    started_on=dt.date(2024, 1, 1))
    page = client_for(staff).get(f"/orgs/units/{unit.pk}/?tab=history").content.decode()
    assert "修改单位" in page and "地址：</span>（空） → 东风村村委会" in page
    assert "任职" in page and "职务：</span>主要负责人" in page  # the team's changes belong to the unit's history
    assert "县妇联王敏" in page
    assert "{&#x27;" not in page and "orgs.update_unit" not in page  # no raw snapshot, no action code


def test_four_lacks_that_contradict_the_figures_are_refused(accounts, tree):
    staff, unit = accounts["women_staff"], tree["village_women"]
    with pytest.raises(ActionError, match="专兼职人数为 0，却未勾选“缺人员”"):
        actions.set_conditions(staff, unit, lacks_staff=False, staff_count=0, lacks_funding=True)
    with pytest.raises(ActionError, match="年度经费为 0，却未勾选“缺经费”"):
        actions.set_conditions(staff, unit, lacks_staff=False, staff_count=2, lacks_funding=False, annual_funding=0)
    cond = actions.set_conditions(staff, unit, lacks_staff=False, staff_count=2, lacks_funding=True)
    assert cond.staff_count == 2 and cond.lacks_funding


def test_a_new_child_unit_starts_one_level_below_its_parent(accounts, tree, client_for):
    page = client_for(accounts["party_office"]).get(f"/orgs/units/add/?parent={tree['village'].pk}").content.decode()
    assert '<option value="group" selected>' in page


def test_the_administrator_configures_a_checklist_and_a_hope_room_can_then_be_inspected(accounts, tree, client_for):
    from conftest import make_user
    from qunli.core.models import User

    admin = make_user("sysadmin2", kind=User.Kind.SYSADMIN)
    page = client_for(admin).get("/orgs/checklists/").content.decode()
    assert "还没有适用的检查标准" in page and "希望小屋" in page
    r = client_for(admin).post("/orgs/checklists/add/", {
        "name": "希望小屋标准", "venue_kinds": ["hope_room"], "pass_score": "80",
        "items_text": "有独立房间|40\n有书桌书柜|30\n有结对志愿者|30"})
    assert r.status_code == 302
    checklist = Checklist.objects.get(name="希望小屋标准")
    assert [(i.text, i.points) for i in checklist.items.all()] == [("有独立房间", 40), ("有书桌书柜", 30), ("有结对志愿者", 30)]
    staff = accounts["women_staff"]
    venue = actions.create_venue(staff, unit=tree["village_women"], name="东风村希望小屋", kind="hope_room")
    first = checklist.items.first()
    insp = actions.record_inspection(staff, venue, checklist=checklist, on=dt.date(2026, 5, 1), inspector="县妇联",
                                     met_item_ids=[first.pk])
    assert insp.score == 40 and not insp.passed
    # a used item keeps its wording: a past score must keep meaning what it meant
    r = client_for(admin).post(f"/orgs/checklists/{checklist.pk}/edit/", {
        "name": "希望小屋标准", "venue_kinds": ["hope_room"], "pass_score": "80",
        "items_text": "有独立的学习房间|40\n有书桌书柜|30\n有结对志愿者|30"})
    assert "已用于检查记录，不能删除或修改" in r.content.decode()
    assert client_for(staff).get("/orgs/checklists/add/").status_code == 403


def test_a_region_nodes_history_does_not_show_another_lines_memberships(accounts, tree, person_factory, client_for,
                                                                        lines):
    """Memberships are scoped by their own line: the union's staff see the village node (no line)
    but not the 妇联 members registered there — nor in the node's history."""
    village = tree["village"]
    person = person_factory(unit=village, name="赵秀梅")
    people_actions.add_membership(accounts["women_staff"], person=person, line=lines["women"], unit=village)
    union_view = client_for(accounts["union_staff"]).get(f"/orgs/units/{village.pk}/?tab=history").content.decode()
    assert "登记会员" not in union_view


def test_a_checklist_whose_points_do_not_add_up_to_100_scores_on_the_100_scale(client_for, accounts, tree):
    """Six items of the default 10 points: five met is 83 (50 of 60), not 50 — and the page
    says the points are converted, so 达标分 80 means what it says."""
    from qunli.orgs.models import Checklist

    admin = accounts["sysadmin"]
    r = client_for(admin).post("/orgs/checklists/add/", {
        "name": "职工书屋标准", "venue_kinds": ["workers_home"], "pass_score": "80",
        "items_text": "有场所\n有图书\n有书架\n有阅读桌椅\n有管理员\n有借阅登记"})
    assert r.status_code == 302
    checklist = Checklist.objects.get(name="职工书屋标准")
    assert checklist.full_points == 60
    assert "各项合计 60 分，按百分制折算" in client_for(admin).get("/orgs/checklists/").content.decode()
    staff = accounts["union_staff"]
    venue = actions.create_venue(staff, unit=tree["union"], name="县总工会职工书屋", kind="workers_home")
    items = [i.pk for i in checklist.items.all()]
    five = actions.record_inspection(staff, venue, checklist=checklist, on=dt.date(2026, 5, 1), inspector="县总工会",
                                     met_item_ids=items[:5])
    assert five.score == 83 and five.passed
    four = actions.record_inspection(staff, venue, checklist=checklist, on=dt.date(2026, 5, 2), inspector="县总工会",
                                     met_item_ids=items[:4])
    assert four.score == 67 and not four.passed
    none = actions.record_inspection(staff, venue, checklist=checklist, on=dt.date(2026, 5, 3), inspector="县总工会",
                                     met_item_ids=[])
    assert none.score == 0
