"""The 转办/转介 receiving unit is chosen with the unit picker bound to the case: it searches
the case's targets (other lines' units of the county, outside the sender's own grants), only
for the case's sending side, and the form accepts exactly what the picker offers."""

import pytest
from django.urls import reverse

from qunli.casework import actions
from qunli.casework.models import Referral
from qunli.casework.tests.test_casework import new_case

pytestmark = pytest.mark.django_db


def picked(client, case, kind, q):
    url = reverse("orgs:unit_picker")
    page = client.get(url, {"name": "to_unit", "id": "id_to_unit", "source": f"{kind}:{case.pk}", "to_unit_q": q})
    assert page.status_code == 200
    return page.content.decode()


def test_the_referral_picker_finds_other_lines_units_outside_the_senders_grant(client_for, team, tree):
    case = new_case(team, tree)
    intake = client_for(team["intake"])  # women's line only: the 总工会 is outside its grant
    found = picked(intake, case, "case_referral", "示范县")
    assert "示范县总工会" in found and "示范县关工委" in found
    assert "示范县妇联" not in found  # its own line is for 转办
    assert "邻县" not in picked(intake, case, "case_referral", "邻县")  # not the county's
    same_line = picked(intake, case, "case_transfer", "妇联")
    assert "城关镇妇联" in same_line and "总工会" not in same_line and "邻县妇联" not in same_line


def test_the_referral_picker_offers_nothing_to_whoever_does_not_act_for_the_case(client_for, team, tree):
    case = new_case(team, tree)
    actions.assign_case(team["intake"], case, caseworker=team["worker"], supervisor=team["super"])
    assert "示范县总工会" in picked(client_for(team["worker"]), case, "case_referral", "总工会")
    for outsider in ("colleague", "intake"):  # same grant, not on the case / intake once assigned
        assert "示范县总工会" not in picked(client_for(team[outsider]), case, "case_referral", "总工会")


def test_the_refer_form_takes_a_picked_target_and_refuses_any_other(client_for, team, tree):
    case = new_case(team, tree)
    client = client_for(team["intake"])
    url = reverse("casework:case_refer", args=[case.pk])
    page = client.get(url).content.decode()
    assert 'name="to_unit_q"' in page and "示范县总工会</option>" not in page  # a picker, not a long select
    refused = client.post(url, {"to_unit": tree["other_women"].pk, "reason": "x"})
    assert "单位不存在或不在您的权限范围内" in refused.content.decode() and not Referral.objects.exists()
    client.post(url, {"to_unit": tree["union"].pk, "reason": "涉及劳动争议，转总工会法律援助"})
    referral = Referral.objects.get()
    assert referral.to_unit == tree["union"] and referral.kind == Referral.Kind.REFERRAL
