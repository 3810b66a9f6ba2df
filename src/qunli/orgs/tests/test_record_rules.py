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
