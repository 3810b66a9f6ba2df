"""The history tabs (修改记录) of casework objects read in Chinese: every verb casework logs has
a Chinese name, internal columns (a stored photo's address, digest, type and size, ciphertext
markers, bookkeeping extras) are not shown, and accounts are named, not numbered."""

import re

import pytest

from qunli.casework import actions
from qunli.casework.tests.test_casework import assigned
from qunli.core.history import ACTION_LABELS

pytestmark = pytest.mark.django_db

CASEWORK_VERBS = [
    "receive_request", "open_case", "update_served_person", "add_consent", "assign_case", "assess", "submit_plan",
    "approve_plan", "return_plan", "record_service", "follow_up", "close_case", "dismiss", "reopen", "add_member",
    "remove_member", "transfer", "refer", "accept_referral", "decline_referral", "withdraw_referral",
    "set_holiday", "delete_holiday", "seed_holidays", "save_request_type",
    "create_pairing", "log_visit", "end_pairing", "set_target",
    "collect_wish", "edit_wish", "approve_wish", "reject_wish", "publish_wish", "unpublish_wish", "claim_wish",
    "record_claim", "cancel_claim", "fulfil_wish",
    "create_project", "edit_project", "set_project_status", "complete_project", "publish_project",
    "unpublish_project",
]


def test_every_verb_casework_logs_has_a_chinese_name():
    from pathlib import Path

    src = Path(actions.__file__).parent
    logged = set()
    for name in ("actions.py", "pairing_actions.py", "wish_actions.py"):
        text = (src / name).read_text()
        logged |= set(re.findall(r'"casework\.([a-z_]+)"', text))
        logged |= set(re.findall(r'(?:_log|_plog)\(actor, "([a-z_]+)"', text))
        logged |= set(re.findall(r'name="([a-z_]+)", step=', text))
    from django.apps import apps

    logged -= {m._meta.model_name for m in apps.get_app_config("casework").get_models()}  # object types
    assert logged <= set(CASEWORK_VERBS), logged - set(CASEWORK_VERBS)
    missing = [v for v in CASEWORK_VERBS if f"casework.{v}" not in ACTION_LABELS]
    assert missing == []


def test_case_history_after_a_service_record_shows_chinese_names_and_no_codes(team, tree, client_for):
    case = assigned(team, tree)
    case = actions.assess(team["worker"], case, note="a")
    case = actions.submit_plan(team["worker"], case, note="b")
    case = actions.approve_plan(team["super"], case, note="同意")
    actions.record_service(team["worker"], case, visit_type="home", note="入户走访")
    page = client_for(team["worker"]).get(f"/casework/{case.pk}/?tab=history").content.decode()
    assert "记录服务" in page and "批准服务计划" in page and "分派个案" in page
    assert "casework." not in page
    assert "step：" not in page and "→ service" not in page
    text = re.sub(r"<[^>]+>", "", page)
    assert "个案社工：（空） → worker" in text  # named, not 编号 N


def test_wish_history_hides_the_stored_photos_internals(client_for, tree, accounts, person_factory, settings,
                                                        tmp_path):
    import datetime as dt

    from qunli.casework import wish_actions as wa
    from qunli.casework.tests.test_wishes import PNG

    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path)}}}
    staff = accounts["party_office"]
    child = person_factory(unit=tree["village_women"], name="欧阳小明")
    child.birth_date = dt.date.today().replace(year=dt.date.today().year - 9)
    child.save()
    w = wa.collect_wish(staff, served=child, unit=tree["women"], category="school", text="想要一套新的课外书",
                        amount="120")
    wa.approve_wish(accounts["women_staff"], w)
    w = wa.publish_wish(staff, w)
    w = wa.record_claim(staff, w, name="陈先生", phone="13900139000")
    w = wa.fulfil_wish(staff, w, photo=("done.png", PNG))
    page = client_for(staff).get(f"/casework/wishes/{w.pk}/?tab=history").content.decode()
    assert "圆梦" in page and "照片：（空） → 已上传" in re.sub(r"<[^>]+>", "", page)
    for internal in ("photo sm3", "photo mime", "photo size", "photo name", "pairing/", "donor phone", "casework."):
        assert internal not in page, internal
