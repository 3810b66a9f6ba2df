"""A grassroots clerk (村（社区）填报员) registers its unit's records; founding a fonds and filing
(giving 档号) are the records office's: before, a village clerk founded a fonds, filed its own
record and — described as 开放 — put it on the public portal the same day."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from qunli.records import actions
from qunli.records.models import Fonds, Item

pytestmark = pytest.mark.django_db


def test_a_clerk_cannot_found_a_fonds_for_its_own_unit(accounts, tree):
    with pytest.raises(PermissionDenied, match="建立全宗须由本级或上级单位的档案管理人员办理"):
        actions.create_fonds(accounts["clerk"], unit=tree["village_women"], code="C0001", name="东风村妇联")
    assert not Fonds.objects.filter(code="C0001").exists()


def test_a_clerk_registers_a_record_that_the_records_office_files(accounts, tree, lines):
    staff = accounts["women_staff"]
    actions.create_fonds(staff, unit=tree["village_women"], code="C0001", name="东风村妇联")
    item = actions.capture_record(accounts["clerk"], unit=tree["village_women"], title="2026年村妇联工作记录",
                                  responsible="东风村妇联", date=dt.date(2026, 3, 1), retention="D10", pages=1)
    with pytest.raises(PermissionDenied, match="归档（编制档号）须由档案管理人员办理"):
        actions.file_items(accounts["clerk"], [item.pk])
    assert Item.objects.get(pk=item.pk).status == "pending"
    actions.file_items(staff, [item.pk])
    assert Item.objects.get(pk=item.pk).archival_code
