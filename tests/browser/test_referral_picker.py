"""转介 on a phone: the receiving unit (another line's unit of the county, a thousand in a real
county, outside the sender's own grants) is found with the unit picker bound to the case —
typing a name asks the server for matches — and the referral goes to the picked unit."""

import pytest
from playwright.sync_api import expect

from qunli.casework.models import Referral
from qunli.casework.tests.conftest import team  # noqa: F401 (fixture)
from qunli.casework.tests.test_casework import new_case
from tests.browser.test_walkthrough import login

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_typing_a_name_finds_the_referral_target_and_the_referral_goes_there(page, live_server, tree, accounts,
                                                                             team):  # noqa: F811
    case = new_case(team, tree)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server.url, "fulian")
    page.goto(f"{live_server.url}/casework/{case.pk}/refer/")
    # the reason first: once in CI, on a loaded machine, a reason typed right after the picker's
    # swap reached the server empty (cause not found; the picker never touches the textarea)
    page.get_by_label("原因").fill("涉及劳动争议，转工会法律援助")
    page.get_by_label("接收单位").fill("总工会")
    match = page.get_by_role("listitem").filter(has_text="示范县总工会")
    expect(match).to_have_count(1)
    expect(page.get_by_role("listitem").filter(has_text="妇联")).to_have_count(0)  # its own line is 转办
    match.click()
    expect(page.locator("#id_to_unit_chosen")).to_contain_text("示范县总工会")
    # the picker's own requests first: a click while its swap lands can be lost on a busy machine
    page.wait_for_load_state("networkidle")
    expect(page.get_by_label("原因")).to_have_value("涉及劳动争议，转工会法律援助")
    page.get_by_role("button", name="保存").click()
    try:  # a loaded machine (the whole suite on two cores) can take long over the POST and its redirect
        page.wait_for_url(f"**/casework/{case.pk}/", timeout=60_000)
    except Exception:  # noqa: BLE001 — say what the page showed instead of only "timeout"
        errors = page.locator(".invalid-feedback, .alert-danger").all_inner_texts()
        pytest.fail(f"no redirect to the case after 保存; still at {page.url}, errors: {errors}")
    referral = Referral.objects.get(case=case)
    assert referral.to_unit == tree["union"] and referral.status == "pending"
