"""到期与超期 on a first visit (no query string) lists what its blank filter means — overdue
or due soon — and not every case the user can see (a closed case was listed as 超期)."""

import datetime as dt

import pytest
from django.utils import timezone

from qunli.casework import actions
from qunli.casework.tests.test_casework import new_case

pytestmark = pytest.mark.django_db


def test_first_visit_lists_only_overdue_or_due_soon_cases(team, tree, client_for):
    def worked_by_worker(**kw):
        return actions.assign_case(team["intake"], new_case(team, tree, **kw), caseworker=team["worker"],
                                   supervisor=team["super"])

    overdue = worked_by_worker(received_at=timezone.now() - dt.timedelta(days=60))
    fresh = worked_by_worker()  # acknowledged; its resolution is weeks away
    assert overdue.is_overdue() and fresh.resolve_due > timezone.localdate() + dt.timedelta(days=7)
    w = client_for(team["worker"])
    first_visit = w.get("/casework/due/").content.decode()
    blank_filter = w.get("/casework/due/", {"due": ""}).content.decode()
    for html in (first_visit, blank_filter):
        assert overdue.request.tracking_code in html
        assert fresh.request.tracking_code not in html
