"""Those who must decide on a request read what it says first, through a logged reveal of
its description only: the unit's intake staff while it is unassigned (分派, 不予受理, 转办 or
转介), the receiving unit's staff while a 转办/转介 is pending (接收 or 拒收). Nobody else
does, and the inbox's 接收 goes through its confirmation page."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from qunli.casework import actions
from qunli.casework.tests.test_casework import assigned, new_case
from qunli.core.models import AccessLog

pytestmark = pytest.mark.django_db


def reveal(client, case):
    return client.post(reverse("casework:case_reveal", args=[case.pk]), {"purpose": ""})


def test_intake_staff_reveal_the_description_of_an_unassigned_case_logged(team, tree, client_for):
    case = new_case(team, tree, description="丈夫多次殴打，需要庇护")
    c = client_for(team["intake"])
    assert "查看诉求内容" in c.get(f"/casework/{case.pk}/").content.decode()
    before = AccessLog.objects.filter(fields="诉求内容").count()
    body = reveal(c, case).content.decode()
    assert "殴打" in body
    assert "李小红" not in body and "13800138000" not in body  # the requester stays with the team
    assert AccessLog.objects.filter(fields="诉求内容", actor=team["intake"]).count() == before + 1


def test_the_receiving_unit_reveals_the_description_of_a_pending_referral(team, tree, client_for):
    case = assigned(team, tree)
    r = actions.refer(team["worker"], case, to_unit=tree["union"], reason="涉及劳动争议")
    c = client_for(team["union"])
    assert "查看诉求内容" in c.get(reverse("casework:referral_accept", args=[r.pk])).content.decode()
    assert "殴打" in reveal(c, case).content.decode()
    assert AccessLog.objects.filter(actor=team["union"], fields="诉求内容").exists()


def test_a_colleague_outside_the_team_intake_and_receiver_still_cannot_reveal(team, tree, client_for, accounts):
    case = assigned(team, tree)  # no longer unassigned: the colleague was intake, is no more
    actions.refer(team["worker"], case, to_unit=tree["union"], reason="涉及劳动争议")
    assert reveal(client_for(team["colleague"]), case).status_code == 404
    with pytest.raises(PermissionDenied):
        actions.reveal_case(team["colleague"], case)
    with pytest.raises(PermissionDenied):
        actions.reveal_case(accounts["leader"], case)  # read-only: decides nothing


def test_the_receiver_can_no_longer_reveal_once_the_referral_is_withdrawn(team, tree):
    case = assigned(team, tree)
    r = actions.refer(team["worker"], case, to_unit=tree["union"], reason="涉及劳动争议")
    actions.withdraw_referral(team["worker"], r)
    with pytest.raises(PermissionDenied):
        actions.reveal_case(team["union"], case)


def test_inbox_accept_goes_through_the_confirmation_page(team, tree, client_for):
    case = assigned(team, tree)
    r = actions.refer(team["worker"], case, to_unit=tree["union"], reason="涉及劳动争议")
    inbox = client_for(team["union"]).get(reverse("casework:referral_inbox")).content.decode()
    accept = reverse("casework:referral_accept", args=[r.pk])
    assert f'href="{accept}"' in inbox and f'action="{accept}"' not in inbox
