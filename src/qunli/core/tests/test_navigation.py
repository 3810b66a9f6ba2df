"""The staff navigation leads to every staff screen a line's office works with."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_navigation_links_the_portal_notice_screens(client_for, accounts):
    page = client_for(accounts["women_staff"]).get("/", follow=True).content.decode()
    assert 'href="/portal/manage/"' in page and "网上群团通知公告" in page
