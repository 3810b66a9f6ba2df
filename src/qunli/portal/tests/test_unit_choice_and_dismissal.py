"""The portal's unit choice: "不清楚，由县委群团办分派" first (routing to the county's party-office
unit), employers' own 工会/妇委会 left out; and a dismissed request (不予受理) shown publicly as
不予受理, not 已办结."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from conftest import add_unit
from qunli.casework import actions as casework
from qunli.casework.models import Case, Request
from qunli.portal import actions
from qunli.portal.tests.test_portal import dv, submit, submit_ok, track

pytestmark = pytest.mark.django_db


@pytest.fixture
def county_units(tree, lines):
    """The county's 群团办 and the bodies of employers: a company's union and 妇委会 in the
    township, a county bureau's 机关工会, a school's 教职工工会; and a 关爱工作站-type service
    unit of the township's 关工委 line."""
    party = add_unit(tree["county"], name="示范县委群团工作办公室", level="county", line=lines["party"], kind="organ")
    company = add_unit(tree["town"], name="城关天成机械制造有限公司", level="township", kind="enterprise")
    add_unit(company, name="城关天成机械制造有限公司工会委员会", level="township", line=lines["union"], kind="enterprise")
    add_unit(company, name="城关天成机械制造有限公司妇委会", level="township", line=lines["women"], kind="enterprise")
    bureau = add_unit(tree["county"], name="示范县司法局", level="county", kind="organ")
    add_unit(bureau, name="示范县司法局机关工会", level="county", line=lines["union"], kind="organ")
    school = add_unit(tree["town"], name="城关中心小学", level="township", kind="school")
    add_unit(school, name="城关中心小学教职工工会", level="township", line=lines["union"], kind="school")
    station = add_unit(tree["town"], name="城关镇关爱工作站", level="township", line=lines["ggw"], kind="new")
    return {"party": party, "station": station}


def options_of(html: str, group: str) -> list[tuple[str, str]]:
    block = html[html.index(f'<optgroup label="{group}">'):]
    block = block[:block.index("</optgroup>")]
    return [(v, text) for v, _, text in re.findall(r'<option value="(\d+)"([^>]*)>([^<]*)</option>', block)]


def test_unsure_is_the_first_choice_and_routes_to_the_county_party_office(client, tree, county_units):
    html = client.get(reverse("portal:submit")).content.decode()
    first = options_of(html, "示范县")[0]
    assert first == (str(county_units["party"].pk), "不清楚，由县委群团办分派")
    # no line on it: choosing a 诉求类型 never hides it (the page narrows by data-line)
    assert f'<option value="{county_units["party"].pk}">' in html
    assert "示范县委群团工作办公室" not in html  # listed once, by what it means to a citizen
    code = submit_ok(client, tree, unit=county_units["party"].pk)
    req = Request.objects.get(tracking_code=code)
    assert req.unit == county_units["party"] and Case.objects.get(request=req).unit == county_units["party"]


def test_employers_own_unions_and_womens_committees_are_not_offered(client, tree, county_units):
    html = client.get(reverse("portal:submit")).content.decode()
    names = [text for _, text in options_of(html, "示范县")]
    for employer_body in ("城关天成机械制造有限公司工会委员会", "城关天成机械制造有限公司妇委会", "示范县司法局机关工会",
                          "城关中心小学教职工工会"):
        assert employer_body not in names
    for kept in ("示范县总工会", "示范县妇联", "城关镇妇联", "城关镇关爱工作站"):
        assert kept in names
    assert "东风村妇联" not in html  # villages still take no requests
    company_union = actions.intake_units().model.objects.get(name="城关天成机械制造有限公司工会委员会")
    r = submit(client, tree, unit=company_union.pk)  # a forged choice is refused too
    assert r.status_code == 200 and "请选择受理单位" in r.content.decode()
    assert not Request.objects.exists()


def test_a_dismissed_request_shows_publicly_as_not_accepted(client, tree, accounts):
    code = submit_ok(client, tree)
    case = Case.objects.get(request__tracking_code=code)
    casework.dismiss(accounts["women_staff"], case, reason="不属于群团组织受理范围，请向人民法院起诉")
    html = track(Client(), code, "5678").content.decode()
    status = re.search(r'id="public-status">([^<]*)<', html).group(1)
    assert status == "不予受理"
    assert "已办结" not in html
    outcome = re.search(r'id="public-outcome">([^<]*)<', html).group(1)
    assert outcome == "不予受理：不属于群团组织受理范围，请向人民法院起诉"
    assert "处理结果" in html and "办结时间" not in html


def test_a_reopened_dismissal_is_no_longer_shown_as_dismissed(tree, accounts):
    case = actions.submit_request(unit=tree["women"], type=dv(), name="甲", phone="13912345678", description="一")
    casework.dismiss(accounts["women_staff"], case, reason="重复提交")
    case = casework.reopen(accounts["women_staff"], Case.objects.get(pk=case.pk), reason="误判，重新受理")
    result = actions.track(case.request.tracking_code, "5678")
    assert result["status"] == "已安排工作人员办理" and not result["dismissed"] and result["outcome"] == ""
