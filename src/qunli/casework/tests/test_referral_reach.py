"""转办/转介 reach the whole county: a township unit hands a case up its own line to the county
(转办) or across to another line's county unit (转介), through the action and through the
page's picker; a unit of another county stays out of reach."""

import pytest
from django.urls import reverse

from conftest import grant, make_user
from qunli.casework import actions
from qunli.casework.models import Referral
from qunli.casework.tests.test_casework import dv
from qunli.core.actions import ActionError

pytestmark = pytest.mark.django_db


@pytest.fixture
def township(tree, lines):
    """城关镇 staff of the women's line: CHANGE on the township's 妇联 only, not on the county."""
    u = make_user("xiangzhen")
    grant(u, "staff", tree["town"], lines=[lines["women"]])
    return u


@pytest.fixture
def township_case(township, tree):
    return actions.receive_request(township, unit=tree["town_women"], type=dv(), channel="walk_in",
                                   requester_name="刘芳", requester_phone="13800138001", description="家庭暴力求助")


def picked(client, case, kind, q) -> str:
    page = client.get(reverse("orgs:unit_picker"),
                      {"name": "to_unit", "id": "id_to_unit", "source": f"{kind}:{case.pk}", "to_unit_q": q})
    assert page.status_code == 200
    return page.content.decode()


def test_township_case_is_transferred_up_to_the_county_unit_of_its_line(township, township_case, tree):
    r = actions.transfer(township, township_case, to_unit=tree["women"], reason="需县妇联统筹")
    assert r.to_unit == tree["women"] and r.kind == Referral.Kind.TRANSFER


def test_township_case_is_referred_to_the_county_unit_of_another_line(township, township_case, tree):
    r = actions.refer(township, township_case, to_unit=tree["union"], reason="涉及劳动争议")
    assert r.to_unit == tree["union"] and r.kind == Referral.Kind.REFERRAL


def test_a_unit_of_another_county_is_still_refused(township, township_case, tree):
    with pytest.raises(ActionError, match="不在可转出的范围内"):
        actions.transfer(township, township_case, to_unit=tree["other_women"], reason="x")


def test_the_township_picker_finds_the_county_units_and_not_another_countys(township, township_case, client_for):
    c = client_for(township)
    assert "示范县妇联" in picked(c, township_case, "case_transfer", "示范县妇联")
    assert "示范县总工会" in picked(c, township_case, "case_referral", "总工会")
    assert "邻县妇联" not in picked(c, township_case, "case_transfer", "妇联")
    assert "示范县总工会" not in picked(c, township_case, "case_transfer", "总工会")  # another line: 转介


def test_the_transfer_page_takes_the_county_unit_and_says_what_it_offers(township, township_case, tree, client_for):
    c = client_for(township)
    url = reverse("casework:case_transfer", args=[township_case.pk])
    assert "本条线的其他单位，含县级单位" in c.get(url).content.decode()
    assert c.post(url, {"to_unit": tree["women"].pk, "reason": "需县妇联统筹"}).status_code == 302
    assert Referral.objects.get().to_unit == tree["women"]
    refer = c.get(reverse("casework:case_refer", args=[township_case.pk])).content.decode()
    assert "其他条线的单位" in refer


def test_a_county_organs_own_union_reaches_the_county_union(tree, lines, accounts):
    """A county organ is county-level itself: its 机关工会's area is the county, not the organ."""
    from conftest import add_unit
    from qunli.orgs.models import Level

    organ = add_unit(tree["county"], name="示范县司法局", level=Level.COUNTY, kind="organ")
    organ_union = add_unit(organ, name="司法局机关工会", level=Level.COUNTY, line=lines["union"], kind="organ")
    case = actions.receive_request(accounts["union_staff"], unit=organ_union, type=dv(), channel="walk_in",
                                   requester_name="赵强", description="工资拖欠")
    assert actions.referral_targets(case).filter(pk=tree["union"].pk).exists()
