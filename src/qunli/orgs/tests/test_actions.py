import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog
from qunli.orgs import actions
from qunli.orgs.models import Unit, UnitEvent, UnitStatus


def test_create_unit_validates_codes_and_level(accounts, tree, lines):
    staff = accounts["party_office"]
    with pytest.raises(ActionError, match="行政区划代码"):
        actions.create_unit(staff, parent=tree["town"], name="新村", level="village", division_code="12")
    with pytest.raises(ActionError, match="层级不能高于"):
        actions.create_unit(staff, parent=tree["town"], name="错层", level="county")
    with pytest.raises(ActionError, match="统一社会信用代码"):
        actions.create_unit(staff, parent=tree["town"], name="某企业工会", level="township", kind="enterprise",
                            line=lines["union"], uscc="91430121MA4L123450")
    unit = actions.create_unit(staff, parent=tree["town"], name="新华社区", level="village",
                               division_code="430121100202")
    assert unit.path.startswith(tree["town"].path) and unit.depth == tree["town"].depth + 1
    assert UnitEvent.objects.filter(unit=unit, kind="created").exists()
    assert ChangeLog.objects.filter(action="orgs.create_unit", object_id=str(unit.pk)).exists()


def test_merged_unit_stays_reachable_with_its_successor(accounts, tree):
    staff = accounts["party_office"]
    actions.merge_unit(staff, tree["village_women"], tree["town_women"], document_no="示组〔2026〕3号")
    old = Unit.objects.get(pk=tree["village_women"].pk)
    assert old.status == UnitStatus.MERGED and old.successor_id == tree["town_women"].pk
    assert Unit.objects.visible_to(accounts["women_staff"]).filter(pk=old.pk).exists()
    with pytest.raises(ActionError, match="已合并"):
        actions.create_unit(staff, parent=old, name="x", level="village")


def test_dissolving_a_unit_with_active_children_is_refused(accounts, tree):
    with pytest.raises(ActionError, match="下级单位"):
        actions.dissolve_unit(accounts["party_office"], tree["town"])
    assert Unit.objects.get(pk=tree["town"].pk).status == UnitStatus.ACTIVE


def test_early_departure_needs_reason_and_confirmation(accounts, tree, person_factory):
    staff = accounts["women_staff"]
    p = person_factory()
    pos = actions.appoint(staff, unit=tree["women"], person=p, title="chair", started_on=dt.date(2024, 1, 1),
                          term_ends_on=dt.date(2029, 1, 1))
    assert pos.title_label == "主席"
    with pytest.raises(ActionError, match="任期未满不得任意调动"):
        actions.end_position(staff, pos, on=dt.date(2026, 6, 1), reason="")
    pos.refresh_from_db()
    assert pos.is_current
    actions.end_position(staff, pos, on=dt.date(2026, 6, 1), reason="组织调动", confirm_early=True)
    pos.refresh_from_db()
    assert pos.ended_early and not pos.is_current


def test_second_chair_is_refused(accounts, tree, person_factory):
    staff = accounts["women_staff"]
    actions.appoint(staff, unit=tree["women"], person=person_factory(), title="chair", started_on=dt.date(2024, 1, 1))
    with pytest.raises(ActionError, match="已有在任的主要负责人"):
        actions.appoint(staff, unit=tree["women"], person=person_factory(), title="chair",
                        started_on=dt.date(2025, 1, 1))


def test_leader_cannot_write(accounts, tree):
    with pytest.raises(PermissionDenied):
        actions.update_unit(accounts["leader"], tree["women"], short_name="x")


def test_inspection_scores_venue_and_keeps_latest(accounts, tree):
    from qunli.orgs.models import Checklist

    staff = accounts["women_staff"]
    venue = actions.create_venue(staff, unit=tree["village_women"], name="东风村妇女之家", kind="womens_home")
    cl = Checklist.objects.get(name="七有")
    items = list(cl.items.values_list("pk", flat=True))
    actions.record_inspection(staff, venue, checklist=cl, on=dt.date(2026, 3, 1), inspector="刘", met_item_ids=items[:4])
    venue.refresh_from_db()
    assert venue.latest_passed is False and venue.latest_score == round(100 * 4 / 7)
    actions.record_inspection(staff, venue, checklist=cl, on=dt.date(2026, 9, 1), inspector="刘", met_item_ids=items)
    venue.refresh_from_db()
    assert venue.latest_passed is True and venue.latest_score == 100


def test_an_executive_deputy_fills_the_deputy_seat(accounts, tree, person_factory):
    from qunli.orgs.models import Position, vacant_seats
    from qunli.orgs.queries import review_team

    staff = accounts["women_staff"]
    actions.appoint(staff, unit=tree["women"], person=person_factory(), title="chair", started_on=dt.date(2024, 1, 1))
    assert review_team(Position.objects.filter(unit=tree["women"])).vacancies == ["副职"]
    actions.appoint(staff, unit=tree["women"], person=person_factory(), title="exec_vice",
                    started_on=dt.date(2024, 1, 1))
    assert review_team(Position.objects.filter(unit=tree["women"])).vacancies == []
    assert vacant_seats(["member"]) == ["主要负责人", "副职"]
