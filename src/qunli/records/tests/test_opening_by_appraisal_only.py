"""开放 comes only from an opening decision (《档案法》第二十七条): a record described as 开放
at capture was on the public portal the day it was filed, with no appraisal and no reviewer."""

import datetime as dt

import pytest

from conftest import TokenClient, chinese_error
from qunli.core.actions import ActionError
from qunli.records import actions, opening
from qunli.records.models import Item

pytestmark = pytest.mark.django_db


def test_capturing_a_record_as_open_is_refused(fonds, tree, accounts):
    with pytest.raises(ActionError, match="只能由开放鉴定决定"):
        actions.capture_record(accounts["women_staff"], unit=tree["women"], title="村务公开记录", responsible="示范县妇联",
                               date=dt.date(2026, 3, 1), openness="open")
    assert not Item.objects.exists()


def test_a_pending_items_description_cannot_open_it(capture, accounts):
    item = capture()
    with pytest.raises(ActionError, match="只能由开放鉴定决定"):
        actions.update_item(accounts["women_staff"], item, openness="open")
    assert Item.objects.get(pk=item.pk).openness == "pending"
    actions.update_item(accounts["women_staff"], item, openness="controlled")  # 控制使用 stays the clerk's call
    assert Item.objects.get(pk=item.pk).openness == "controlled"


def test_the_capture_and_edit_forms_do_not_offer_open(client, capture, accounts):
    client.force_login(accounts["women_staff"])
    for url in ("/records/items/add/", f"/records/items/{capture().pk}/edit/"):
        page = client.get(url).content.decode()
        assert '<option value="pending"' in page and '<option value="open"' not in page, url


def test_the_api_refuses_capture_as_open_in_chinese(fonds, tree, accounts):
    r = TokenClient(accounts["women_staff"], "/api/records").post_form("/items", {"unit_id": tree["women"].pk, "title": "题名", "responsible": "责任者",
                                                "date": "2024-01-01", "openness": "open"})
    assert "只能由开放鉴定决定" in chinese_error(r, 400)[0]
    assert not Item.objects.exists()


def test_an_early_opening_goes_through_a_decision(capture, accounts):
    staff = accounts["women_staff"]
    item = capture()
    actions.file_items(staff, [item.pk])
    review = opening.requeue(staff, Item.objects.get(pk=item.pk), reason="工作性文件，提前开放")
    opening.decide_opening(staff, [review.pk], decision="open", reason="经鉴定无不宜开放内容")
    assert Item.objects.get(pk=item.pk).openness == "open"
