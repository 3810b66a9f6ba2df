"""Shared fixtures: a small two-county tree with line units, and one account per role.

Tree (region nodes have no line):
  湖南省 (province)
  └─ 示范县 (county region)            ── county
     ├─ 示范县总工会 (union)
     ├─ 示范县妇联 (women)
     ├─ 示范县关工委 (ggw)
     └─ 城关镇 (township region)
        ├─ 城关镇妇联 (women)
        └─ 东风村 (village region)
           └─ 东风村妇联 (women)
  └─ 邻县 (county region)              ── other_county: outside every county grant
     └─ 邻县妇联 (women)
"""

import datetime as dt
import json
import os
import re

import pytest

from qunli.core.models import Grant, User
from qunli.core.scoping import forget_grants
from qunli.orgs.models import Level, Line, Unit
from qunli.people.models import Person

PASSWORD = "Qunli-Test-2026!"


def pytest_configure(config):
    """With QUNLI_REQUIRE_DB set (the PostgreSQL run of `make test`), refuse to run on any
    other database, so that run can never fall back to SQLite unnoticed."""
    wanted = os.environ.get("QUNLI_REQUIRE_DB")
    if wanted:
        from django.conf import settings

        engine = settings.DATABASES["default"]["ENGINE"]
        if wanted not in engine:
            raise pytest.UsageError(f"QUNLI_REQUIRE_DB={wanted} but the database engine is {engine}")


CJK = re.compile(r"[\u4e00-\u9fff]")


class TokenClient:
    """A bearer-token client (an integration) speaking JSON to the API under ``prefix``."""

    def __init__(self, user, prefix: str = "/api"):
        from django.test import Client

        from qunli.core.actions import issue_api_token

        self.prefix = prefix
        self.client = Client(headers={"Authorization": f"Bearer {issue_api_token(user, user, 'test')}"})

    def get(self, url, **params):
        return self.client.get(self.prefix + url, params)

    def post(self, url, data=None):
        return self.client.post(self.prefix + url, json.dumps(data or {}), content_type="application/json")

    def post_form(self, url, data):
        return self.client.post(self.prefix + url, data)  # multipart


def body(r):
    return json.loads(r.content.decode())


def chinese_error(r, status: int) -> list[str]:
    """The API's error answer: that status, and every message of its ``detail`` in Chinese."""
    assert r.status_code == status, r.content.decode()
    detail = body(r)["detail"]
    assert detail and all(CJK.search(m) for m in detail), detail
    return detail


def add_unit(parent, **fields) -> Unit:
    if parent is None:
        return Unit.objects.add_root(fields)
    return Unit.objects.add_child(parent, fields)


@pytest.fixture
def lines(db):
    return {line.code: line for line in Line.objects.all()}


@pytest.fixture
def tree(lines):
    province = add_unit(None, name="湖南省", level=Level.PROVINCE, division_code="430000")
    county = add_unit(province, name="示范县", level=Level.COUNTY, division_code="430121")
    union = add_unit(county, name="示范县总工会", level=Level.COUNTY, line=lines["union"], kind="organ")
    women = add_unit(county, name="示范县妇联", level=Level.COUNTY, line=lines["women"], kind="organ")
    ggw = add_unit(county, name="示范县关工委", level=Level.COUNTY, line=lines["ggw"], kind="organ")
    town = add_unit(county, name="城关镇", level=Level.TOWNSHIP, division_code="430121100")
    town_women = add_unit(town, name="城关镇妇联", level=Level.TOWNSHIP, line=lines["women"])
    village = add_unit(town, name="东风村", level=Level.VILLAGE, division_code="430121100201")
    village_women = add_unit(village, name="东风村妇联", level=Level.VILLAGE, line=lines["women"])
    other = add_unit(province, name="邻县", level=Level.COUNTY, division_code="430122")
    other_women = add_unit(other, name="邻县妇联", level=Level.COUNTY, line=lines["women"], kind="organ")
    units = dict(province=province, county=county, union=union, women=women, ggw=ggw, town=town,
                 town_women=town_women, village=village, village_women=village_women, other_county=other,
                 other_women=other_women)
    return {k: Unit.objects.get(pk=v.pk) for k, v in units.items()}


def make_user(username: str, kind: str = User.Kind.BUSINESS) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, kind=kind, display_name=username,
                                    must_change_password=False)
    return user


def grant(user: User, role: str, unit: Unit, lines=(), all_lines: bool = False) -> Grant:
    g = Grant.objects.create(user=user, role=role, unit=unit, all_lines=all_lines)
    if lines:
        g.lines.set(lines)
    forget_grants(user)
    return g


@pytest.fixture
def accounts(tree, lines):
    """One account per role. Business accounts are all inside 示范县; none reaches 邻县."""
    party_office = make_user("qunban")  # 县委群团办: all lines, county subtree, read/write
    grant(party_office, "staff", tree["county"], all_lines=True)
    women_staff = make_user("fulian")  # 县妇联 staff: women's line in the county
    grant(women_staff, "staff", tree["county"], lines=[lines["women"]])
    union_staff = make_user("gonghui")
    grant(union_staff, "staff", tree["county"], lines=[lines["union"]])
    leader = make_user("lingdao")  # county leader, read-only, all lines
    grant(leader, "leader", tree["county"], all_lines=True)
    clerk = make_user("cunfulian")  # village women's clerk: own unit only
    grant(clerk, "clerk", tree["village_women"], lines=[lines["women"]])
    return {
        "party_office": party_office, "women_staff": women_staff, "union_staff": union_staff, "leader": leader,
        "clerk": clerk,
        "sysadmin": make_user("sysadmin", User.Kind.SYSADMIN),
        "secadmin": make_user("secadmin", User.Kind.SECADMIN),
        "auditor": make_user("auditor", User.Kind.AUDITOR),
    }


@pytest.fixture
def person_factory(tree):
    counter = {"n": 0}

    def make(unit=None, name="张三", id_number="", phone=""):
        from qunli.core.identifiers import make_id_number

        counter["n"] += 1
        p = Person(unit=unit or tree["village_women"], name=name)
        p.set_sensitive("id_number", id_number or make_id_number("430121", dt.date(1980, 1, 1), counter["n"]))
        if phone:
            p.set_sensitive("phone", phone)
        p.save()
        return p

    return make


@pytest.fixture
def client_for(client):
    """A test client signed in as the given account."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is deliberately slow; tests hash dozens of passwords and prove nothing about it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


_SEEDED = {}


@pytest.fixture(scope="session", autouse=True)
def _seeded_rows(django_db_setup, django_db_blocker):
    """The rows the data migrations seeded (lines, checklists, categories, request types,
    holidays …), captured once right after the test database is built, before any test."""
    from django.apps import apps
    from django.core import serializers

    skip = {"contenttypes", "auth", "sessions"}  # recreated by post_migrate or irrelevant
    with django_db_blocker.unblock():
        rows = []
        for model in apps.get_models():
            if model._meta.app_label not in skip and not model._meta.proxy and model._meta.managed:
                rows.extend(model._base_manager.all())
        _SEEDED.update(rows=serializers.serialize("json", rows), blocker=django_db_blocker)
        return _SEEDED["rows"]


def _is_transactional(item) -> bool:
    marker = item.get_closest_marker("django_db")
    return "transactional_db" in getattr(item, "fixturenames", ()) or (
        marker is not None and bool(marker.kwargs.get("transaction")))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A transactional test empties every table when its fixtures tear down, the seeded
    reference data included, and serialized_rollback does not bring it back under
    pytest-django here. Put the seeded rows back (committed) right after that flush, so the
    next test on this worker — transactional or not — finds the database as migrated."""
    yield
    # nextitem None: the session fixtures are gone too and the connection points back at the
    # real database, which must never be touched
    if nextitem is None or not _is_transactional(item) or "rows" not in _SEEDED:
        return
    from django.core import serializers
    from django.db import transaction

    with _SEEDED["blocker"].unblock():
        if Line.objects.exists():
            return
        with transaction.atomic():
            for obj in serializers.deserialize("json", _SEEDED["rows"]):
                obj.save()
