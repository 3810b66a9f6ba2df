"""Keyboard and screen-reader behaviour an axe-core run cannot prove on its own: where focus
goes after a refused public form, the staff shell's skip link, the login page's required-field
messages, and a long display name that must not push the staff top bar off a 320px screen."""

import re

import pytest
from playwright.sync_api import expect

from conftest import grant, make_user
from tests.browser.test_walkthrough import login

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

FOCUSED_ID = "document.activeElement && document.activeElement.id"
SUBMIT_FIELDS = ["id_type", "id_unit", "id_name", "id_phone", "id_description", "id_consent"]


def test_refused_portal_form_focuses_an_error_summary_that_links_to_each_field(page, live_server, tree):
    page.goto(f"{live_server.url}/portal/submit/")
    page.get_by_role("button", name="提交诉求").click()
    page.wait_for_load_state()

    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("请按提示修改后再提交")
    assert page.evaluate(FOCUSED_ID) == "error-summary"  # read first, not lost on <body>
    assert summary.get_attribute("tabindex") == "-1"
    # the summary is the only alert; each field's own message is tied to it by aria-describedby
    expect(page.get_by_role("alert")).to_have_count(1)

    hrefs = summary.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == [f"#{f}" for f in SUBMIT_FIELDS]  # in the order the form asks them
    for field_id in SUBMIT_FIELDS:
        field = page.locator(f"#{field_id}")
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_attribute("aria-describedby", re.compile(rf"\b{field_id}_error\b"))
        expect(page.locator(f"#{field_id}_error")).not_to_be_empty()

    summary.get_by_role("link", name="请填写手机号码。").click()
    assert page.evaluate(FOCUSED_ID) == "id_phone"  # the link takes the user into the field


def test_staff_pages_start_with_a_skip_link_to_main(page, live_server, tree):
    clerk = make_user("xiangzhen")
    grant(clerk, "staff", tree["town"], all_lines=True)
    login(page, live_server.url, "xiangzhen")

    skip = page.get_by_role("link", name="跳到主要内容")
    expect(skip).to_have_attribute("href", "#main")
    expect(page.locator("main#main")).to_have_count(1)
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["width"] > 1  # shown once focused
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED_ID) == "main"


def test_login_with_empty_fields_says_each_is_required(page, live_server, tree):
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.get_by_role("main")).to_have_count(1)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()

    for field_id, label in (("id_username", "用户名"), ("id_password", "密码")):
        message = page.locator(f"#{field_id}_error")
        expect(message).to_contain_text("必填")
        field = page.get_by_label(label, exact=True)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_attribute("aria-describedby", f"{field_id}_error")


def test_top_bar_fits_a_320px_screen_with_a_long_display_name(page, live_server, tree):
    worker = make_user("shegong")
    worker.display_name = "县妇联社工（个案、结对、微心愿）"
    worker.save(update_fields=["display_name"])
    grant(worker, "staff", tree["town"], all_lines=True)
    page.set_viewport_size({"width": 320, "height": 640})
    login(page, live_server.url, "shegong")

    sizes = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert sizes[0] <= sizes[1]  # no sideways scrolling
    bar = page.locator("nav.qunli-topbar")
    name = bar.locator("[title^='县妇联社工（个案、结对、微心愿）']")
    expect(name).to_have_css("text-overflow", "ellipsis")  # the name gives way, with its full text in the title
    for control in (bar.get_by_role("button", name="退出"), bar.get_by_role("link", name="修改密码")):
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 320
