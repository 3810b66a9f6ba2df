"""No query string makes a page fail: every route of the project (discovered as in the
authorization matrix, path parameters filled with an id that exists nowhere) is fetched with
each query parameter a page reads set to values that look numeric to one check and not to
another — a superscript two (``"²".isdigit()`` is True, ``int("²")`` fails), Arabic-Indic
digits, full-width digits and an over-long number — by an anonymous visitor, a broad business
account and the system administrator. Any answer but a 5xx is acceptable; a 5xx is reported
with the route, the account and the value."""

import pytest
from django.test import Client

from tests.test_authorization_matrix import MISSING_PK, ROUTES

PARAMS = ("unit", "parent", "year", "line", "exclude", "q", "pk", "id", "page", "sort", "status", "category",
          "fonds", "fonds_id", "run", "run_id", "rows", "pick", "person", "team", "type", "channel", "due", "limit",
          "offset", "month", "kind", "level", "retention", "item", "batch", "code", "last4")
HOSTILE = ("²", "١٢", "１２", "9" * 40, "-1")

pytestmark = pytest.mark.django_db


def _url(route) -> str:
    return route.url(MISSING_PK)


@pytest.mark.parametrize("value", HOSTILE)
def test_no_page_fails_on_a_hostile_number_in_its_query_string(value, accounts, tree):
    clients = {"anonymous": Client(raise_request_exception=False)}
    for name in ("party_office", "sysadmin"):
        clients[name] = Client(raise_request_exception=False)
        clients[name].force_login(accounts[name])
    failures = []
    query = dict.fromkeys(PARAMS, value)
    for route in ROUTES:
        if route.template.startswith(("/accounts/logout", "/static/")):
            continue
        for who, client in clients.items():
            r = client.get(_url(route), query)
            if r.status_code >= 500:
                failures.append(f"{who} GET {_url(route)} ?…={value!r} → {r.status_code}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("value", HOSTILE)
def test_no_form_fails_on_a_hostile_number_in_its_fields(value, accounts, tree):
    """The same values in every field a form or bulk action reads (checked ids included),
    posted to every page route by a broad business account."""
    client = Client(raise_request_exception=False)
    client.force_login(accounts["party_office"])
    data = {**dict.fromkeys(PARAMS, value), "pk": [value, "1"], "op": "delete", "decision": "open"}
    failures = []
    for route in ROUTES:
        if route.is_api or route.template.startswith(("/accounts/", "/static/")):
            continue
        r = client.post(_url(route), data)
        if r.status_code >= 500:
            failures.append(f"POST {_url(route)} …={value!r} → {r.status_code}")
    assert not failures, "\n".join(failures)
