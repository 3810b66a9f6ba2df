"""Fixtures shared by the casework tests (and the browser tests that import them)."""

import pytest

from conftest import grant, make_user


@pytest.fixture
def team(tree, lines, accounts):
    """Women's-line staff on the county (a caseworker, a supervisor, a colleague with the same
    grant who is on no case, a member to add), the county women's intake staff, and the county
    union's staff who receive 转介."""
    out = {}
    for name in ("worker", "super", "colleague", "member"):
        u = make_user(name)
        grant(u, "staff", tree["county"], lines=[lines["women"]])
        out[name] = u
    out["intake"] = accounts["women_staff"]
    out["union"] = accounts["union_staff"]
    return out
