"""Every read of a case is access-logged, not only the explicit reveal: the case page (the
team sees the served person — often a child — in clear), the served-person form pre-filled
with that data, and the API's case detail."""

import pytest

from qunli.casework.models import Case, ServedPerson
from qunli.casework.tests.test_casework import assigned
from qunli.core.models import AccessLog

pytestmark = pytest.mark.django_db


def logged_for(case) -> list[AccessLog]:
    return list(AccessLog.objects.filter(object_type="casework.case", object_id=str(case.pk)).order_by("seq"))


@pytest.fixture
def served_case(team, tree, person_factory):
    from qunli.casework import actions
    from qunli.casework.tests.test_casework import new_case

    child = person_factory(unit=tree["village_women"], name="王一鸣")
    case = new_case(team, tree, person=child, categories=["left_behind"])
    ServedPerson.objects.filter(pk=case.served_person_id).update(guardian_name="刘秀英", school_or_employer="城关中心小学")
    return actions.assign_case(team["intake"], Case.objects.get(pk=case.pk), caseworker=team["worker"],
                               supervisor=team["super"])


def test_opening_the_case_page_as_the_caseworker_writes_an_access_log_row_naming_the_case(team, tree, client_for,
                                                                                          served_case):
    assert logged_for(served_case) == []
    assert client_for(team["worker"]).get(f"/casework/{served_case.pk}/").status_code == 200
    [row] = logged_for(served_case)
    assert row.actor == team["worker"] and row.object_repr == str(served_case)
    assert "服务对象姓名" in row.fields and "监护人" in row.fields and row.purpose == "办理个案"


def test_opening_the_served_person_form_prefilled_is_access_logged(team, client_for, served_case):
    page = client_for(team["worker"]).get(f"/casework/{served_case.pk}/served/").content.decode()
    assert "城关中心小学" in page
    [row] = logged_for(served_case)
    assert "学校或工作单位" in row.fields and row.purpose == "修改服务对象信息"


def test_the_api_case_detail_is_access_logged(team, tree, client_for):
    case = assigned(team, tree)
    assert client_for(team["worker"]).get(f"/api/casework/cases/{case.pk}").status_code == 200
    [row] = logged_for(case)
    assert row.actor == team["worker"]


def test_a_refused_case_page_logs_nothing(team, tree, client_for):
    case = assigned(team, tree)
    assert client_for(team["colleague"]).get(f"/casework/{case.pk}/").status_code == 404
    assert logged_for(case) == []
