"""The staff top bar on a phone (390×844) keeps every control on one line: 「退出」 split into
退/出 and 「修改密码」 wrapped onto two lines there; the password link is then its key icon,
still named for screen readers."""

import pytest

from conftest import grant, make_user
from tests.browser.test_walkthrough import login

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LINES = """el => { const r = document.createRange(); r.selectNodeContents(el);
  return new Set(Array.from(r.getClientRects()).filter(b => b.width > 1)
                      .map(b => Math.round(b.top))).size; }"""  # lines of visible text


def test_top_bar_controls_stay_on_one_line_on_a_phone(page, live_server, tree, lines):
    clerk = make_user("xiangzhen")
    clerk.display_name = "城关镇妇联李晓红"  # names as the demo county's accounts carry them
    clerk.save(update_fields=["display_name"])
    grant(clerk, "staff", tree["town"], all_lines=True)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server.url, "xiangzhen")
    bar = page.locator("nav.qunli-topbar")
    logout = bar.get_by_role("button", name="退出")
    password = bar.get_by_role("link", name="修改密码")
    assert logout.evaluate(LINES) == 1
    assert password.is_visible() and password.bounding_box()["height"] <= logout.bounding_box()["height"]
    box = bar.bounding_box()
    assert box["width"] <= 390 and logout.bounding_box()["x"] + logout.bounding_box()["width"] <= 390
