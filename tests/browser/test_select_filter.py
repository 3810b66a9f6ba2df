"""A long select gets a search box: on the 转介 form (referral targets: every other line's
unit of the region, a thousand in a real county) typing a name narrows the options."""

import pytest

from qunli.casework.models import Referral
from qunli.casework.tests.test_casework import new_case, team  # noqa: F401 (fixture)
from tests.browser.test_walkthrough import login

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_typing_in_the_search_box_narrows_the_referral_targets(page, live_server, tree, accounts, team):  # noqa: F811
    case = new_case(team, tree)
    login(page, live_server.url, "fulian")
    page.goto(f"{live_server.url}/casework/{case.pk}/refer/")
    select = page.locator("select[name=to_unit]")
    names = lambda: [t for t in select.locator("option:not([hidden])").all_inner_texts() if t.strip("-请选择 ")]  # noqa: E731
    everything = names()
    assert any("总工会" in n for n in everything) and any("关工委" in n for n in everything)
    page.get_by_role("searchbox", name="筛选“接收单位”").fill("总工会")
    narrowed = names()
    assert narrowed and all("总工会" in n for n in narrowed) and len(narrowed) < len(everything)
    select.select_option(label=narrowed[0])
    page.get_by_label("原因").fill("涉及劳动争议，转工会法律援助")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(f"**/casework/{case.pk}/")
    referral = Referral.objects.get(case=case)
    assert "总工会" in referral.to_unit.name and referral.status == "pending"
