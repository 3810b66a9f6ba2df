"""A read-only account (领导: a leader grant reads its subtree and changes nothing) is not
offered data-entry forms: the menu leaves them out, list pages show no 新增/导入, and a form
opened by its address says the account is read-only — instead of letting the leader fill it
and then refusing with 「单位不存在或不在您的权限范围内」."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

FORMS = ["casework:intake", "casework:project_add", "casework:wish_add", "casework:pairing_add", "people:person_add",
         "orgs:unit_add", "records:item_add", "portal:notice_add"]


def test_leader_menu_leaves_out_data_entry(client_for, accounts):
    html = client_for(accounts["leader"]).get(reverse("casework:case_list")).content.decode()
    assert "全部个案" in html  # reading is offered
    for name in ("casework:intake", "records:scan_upload", "core:import_start",
                 # work lists only a write grant fills: a leader's would always be empty
                 "casework:unassigned", "casework:escalated", "casework:referral_inbox"):
        assert f'href="{reverse(name)}"' not in html, name


def test_staff_menu_keeps_data_entry(client_for, accounts):
    html = client_for(accounts["women_staff"]).get(reverse("casework:case_list")).content.decode()
    for name in ("casework:intake", "records:scan_upload", "core:import_start", "casework:escalated"):
        assert f'href="{reverse(name)}"' in html, name


@pytest.mark.parametrize("name", FORMS)
def test_leader_opening_a_form_is_told_the_account_is_read_only(client_for, accounts, name):
    r = client_for(accounts["leader"]).get(reverse(name))
    assert r.status_code == 403
    assert "只有查看权限" in r.content.decode()


@pytest.mark.parametrize("name", FORMS)
def test_staff_can_open_the_same_forms(client_for, accounts, name):
    assert client_for(accounts["party_office"]).get(reverse(name)).status_code == 200


def test_leader_list_pages_offer_no_add_or_import(client_for, accounts):
    html = client_for(accounts["leader"]).get(reverse("people:person_list")).content.decode()
    assert "新增" not in html and "导入" not in html
    html = client_for(accounts["party_office"]).get(reverse("people:person_list")).content.decode()
    assert "新增" in html and "导入" in html
