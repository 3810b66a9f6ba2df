"""A donor on a phone-sized screen finds a published wish on the 心愿墙, claims it and reads the
thank-you page; staff then confirm fulfilment with a photo in the casework screens and the
wish shows as 已圆梦 on the wall — with no name of the child anywhere on the public pages."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD
from qunli.casework import wish_actions as wa
from qunli.casework.models import Wish

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_donor_claims_on_a_phone_and_staff_confirm_fulfilment(page, live_server, accounts, tree, person_factory,
                                                            tmp_path, settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path / "store")}}}
    staff = accounts["party_office"]
    child = person_factory(unit=tree["village_women"], name="陈小花")
    child.birth_date = dt.date.today().replace(year=dt.date.today().year - 10)
    child.save()
    w = wa.collect_wish(staff, served=child, unit=tree["women"], category="school", text="想要一本新华字典",
                        amount="40")
    wa.publish_wish(staff, wa.approve_wish(accounts["women_staff"], w))  # four-eyes: not the registrant
    base = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})

    # --- the donor, on the phone -----------------------------------------------------------------
    page.goto(f"{base}/portal/")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="心愿墙").click()
    expect(page.get_by_text("想要一本新华字典")).to_be_visible()
    expect(page.get_by_text("陈*，8–10岁 · 学习用品")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("link", name="认领这个心愿").click()
    page.get_by_label("您的姓名").fill("周爱心")
    page.get_by_label("手机号码").fill("13911112222")
    page.get_by_label("我同意负责单位使用以上信息与我联系圆梦事宜。").check()
    expect(page.locator("#id_website")).not_to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("button", name="确认认领").click()
    page.wait_for_url(re.compile(r"/portal/wishes/thanks/$"))
    expect(page.get_by_text("示范县妇联")).to_be_visible()
    assert Wish.objects.get(pk=w.pk).status == "claimed"

    # --- staff confirm fulfilment with a photo -----------------------------------------------------
    page.set_viewport_size({"width": 1366, "height": 900})
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("用户名").fill(staff.username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/reports/"))
    page.goto(f"{base}/casework/wishes/{w.pk}/")
    expect(page.get_by_text("139****2222")).to_be_visible()
    page.get_by_role("link", name="确认圆梦（上传照片）").click()
    photo = tmp_path / "done.png"
    photo.write_bytes(PNG)
    page.locator("input[name=photo]").set_input_files(str(photo))
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(rf"/casework/wishes/{w.pk}/$"))
    expect(page.locator("[data-status=fulfilled]")).to_be_visible()

    # --- the wall shows it as fulfilled, still without the child's name ------------------------------
    page.context.clear_cookies()
    page.goto(f"{base}/portal/wishes/")
    expect(page.locator(f"#wish-{w.pk}")).to_contain_text("已圆梦")
    assert "陈小花" not in page.content() and "小花" not in page.content()
