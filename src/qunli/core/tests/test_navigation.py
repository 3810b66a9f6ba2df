"""The staff navigation leads to every staff screen a line's office works with."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_navigation_links_the_portal_notice_screens(client_for, accounts):
    page = client_for(accounts["women_staff"]).get("/", follow=True).content.decode()
    assert 'href="/portal/manage/"' in page and "网上群团通知公告" in page


def test_an_archives_only_account_has_no_casework_menu(client_for, accounts, tree, lines):
    from conftest import grant, make_user

    archivist = make_user("xiandangan")
    grant(archivist, "staff", tree["county"], lines=[lines["archives"]])
    titles = [g["title"] for g in client_for(archivist).get("/records/items/").context["nav_menu"]]
    assert "档案" in titles and "服务群众" not in titles
    staff = [g["title"] for g in client_for(accounts["women_staff"]).get("/records/items/").context["nav_menu"]]
    assert "服务群众" in staff
