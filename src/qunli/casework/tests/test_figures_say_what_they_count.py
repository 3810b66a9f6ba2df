"""Figures say what they count and refuse what means nothing: the due page's on-time rate is
over the cases the user may see (and points to the dashboard's subtree figure); a pairing
target of 0 is refused in Chinese."""

import datetime as dt

import pytest
from django.urls import reverse

from qunli.casework import pairing_actions
from qunli.casework.models import PairingTarget
from qunli.core.actions import ActionError

pytestmark = pytest.mark.django_db


def test_due_page_on_time_rate_says_it_counts_the_users_own_cases_and_links_the_dashboard(team, client_for):
    page = client_for(team["worker"]).get(reverse("casework:due")).content.decode()
    assert "按时办结率（您可查看的个案" in page and f'href="{reverse("casework:dashboard")}"' in page


def test_dashboard_on_time_rate_says_it_counts_the_whole_subtree(accounts, client_for):
    page = client_for(accounts["leader"]).get(reverse("casework:dashboard")).content.decode()
    assert "所选单位（含下级）全部个案：已结案" in page


def test_a_pairing_target_of_zero_is_refused(accounts, tree, client_for):
    with pytest.raises(ActionError, match="目标人数须至少为1人"):
        pairing_actions.set_target(accounts["party_office"], unit=tree["town"], year=dt.date.today().year,
                                   kind="help", category="left_behind", target=0)
    r = client_for(accounts["party_office"]).post(reverse("casework:pairing_target_set"), {
        "unit": tree["town"].pk, "year": dt.date.today().year, "kind": "help", "category": "left_behind",
        "target": 0})
    assert "目标人数须至少为1人" in r.content.decode() and not PairingTarget.objects.exists()
