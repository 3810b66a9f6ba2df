"""The case pages guide the work: the next step of the lifecycle is the primary button (never
不予受理), the close form warns that the outcome is public, 我的个案 opens on open cases, the
served person links to their record (一人一档), and 增加成员 offers and notifies only
accounts that can work on the case."""

import re

import pytest
from django.urls import reverse

from qunli.casework import actions
from qunli.casework.models import Case, CaseMember
from qunli.casework.tests.test_casework import assigned, new_case, to_follow_up
from qunli.core.actions import ActionError

pytestmark = pytest.mark.django_db


def buttons(page: str) -> list[tuple[str, str]]:
    """(class, label) of the step buttons, in order."""
    return re.findall(r'<a class="btn btn-sm ([^"]+)" href="/casework/\d+/[a-z_]+/">([^<]+)</a>', page)


def test_on_an_assigned_case_the_primary_button_is_assess_and_dismiss_comes_last(team, tree, client_for):
    case = assigned(team, tree)
    found = buttons(client_for(team["worker"]).get(f"/casework/{case.pk}/").content.decode())
    assert found[0] == ("btn-danger", "评估")
    assert found[-1] == ("btn-outline-secondary", "不予受理")


def test_on_an_unassigned_case_dismiss_is_never_the_primary_button(team, tree, client_for):
    case = new_case(team, tree)
    found = buttons(client_for(team["intake"]).get(f"/casework/{case.pk}/").content.decode())
    assert found[0] == ("btn-danger", "分派") and found[-1][1] == "不予受理"


def test_close_form_warns_that_the_outcome_is_shown_to_the_requester(team, tree, client_for):
    case = to_follow_up(team, assigned(team, tree))
    page = client_for(team["worker"]).get(f"/casework/{case.pk}/close/").content.decode()
    assert "诉求人在网上群团查询进度时可以看到结案结果，请勿填写个人信息" in page


def test_my_cases_open_on_open_cases_and_show_closed_ones_on_request(team, tree, client_for):
    open_case = assigned(team, tree)
    closed = to_follow_up(team, assigned(team, tree))
    closed = actions.close_case(team["worker"], closed, outcome="已解决", satisfaction=5)
    c = client_for(team["worker"])
    default = [o.pk for o in c.get(reverse("casework:my_cases")).context["page"].object_list]
    assert default == [open_case.pk]
    everything = [o.pk for o in c.get(reverse("casework:my_cases"), {"status": "all"}).context["page"].object_list]
    assert set(everything) == {open_case.pk, closed.pk}
    only_closed = c.get(reverse("casework:my_cases"), {"status": Case.Status.CLOSED}).context["page"].object_list
    assert [o.pk for o in only_closed] == [closed.pk]


def test_served_person_links_to_the_person_record_when_the_viewer_may_see_it(team, tree, client_for, person_factory):
    child = person_factory(unit=tree["village_women"], name="王一鸣")
    case = new_case(team, tree, person=child)
    actions.assign_case(team["intake"], case, caseworker=team["worker"], supervisor=team["super"])
    page = client_for(team["worker"]).get(f"/casework/{case.pk}/").content.decode()
    assert f'href="/people/{child.pk}/"' in page


def test_served_person_has_no_link_for_a_caseworker_who_may_not_see_the_person(team, tree, client_for,
                                                                               person_factory, lines):
    from conftest import grant, make_user

    clerk = make_user("xianfulian")  # the county 妇联's own clerk: its unit only, not the village's people
    grant(clerk, "clerk", tree["women"], lines=[lines["women"]])
    child = person_factory(unit=tree["village_women"], name="赵小花")
    case = new_case(team, tree, person=child)
    actions.assign_case(team["intake"], case, caseworker=clerk, supervisor=team["super"])
    page = client_for(clerk).get(f"/casework/{case.pk}/").content.decode()
    assert "赵小花" in page and f'href="/people/{child.pk}/"' not in page


def test_member_picker_offers_only_accounts_that_can_write_on_the_unit(team, tree, client_for, accounts):
    case = assigned(team, tree)
    form = client_for(team["worker"]).get(f"/casework/{case.pk}/add_member/").context["form"]
    offered = set(form.fields["user_to_add"].queryset.values_list("username", flat=True))
    assert "member" in offered and "lingdao" not in offered  # the read-only county leader
    with pytest.raises(ActionError):
        actions.add_member(team["worker"], case, user=accounts["leader"])


def test_an_added_member_is_notified(team, tree, django_capture_on_commit_callbacks):
    from qunli.core.notification_models import Notification

    case = assigned(team, tree)
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_member(team["worker"], case, user=team["member"])
    assert CaseMember.objects.filter(case=case, user=team["member"]).exists()
    note = Notification.objects.get(recipient=team["member"])
    assert "个案成员" in note.title and case.request.tracking_code in note.title
