import time

import pytest
from django.urls import reverse

from conftest import PASSWORD, make_user
from qunli.core.models import LoginEvent


@pytest.fixture
def account(db):
    return make_user("zhangsan")


def _login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_five_failures_lock_the_account_even_with_the_right_password(client, account):
    for _ in range(5):
        _login(client, "zhangsan", "wrong-password")
    response = _login(client, "zhangsan", PASSWORD)
    assert response.status_code == 429
    assert "账户已锁定" in response.content.decode()
    assert LoginEvent.objects.filter(username="zhangsan", outcome="locked").exists()
    assert LoginEvent.objects.filter(username="zhangsan", outcome="failure").count() >= 5


def test_four_failures_then_success_logs_in(client, account):
    for _ in range(4):
        _login(client, "zhangsan", "wrong-password")
    assert _login(client, "zhangsan", PASSWORD).status_code == 302
    assert LoginEvent.objects.filter(username="zhangsan", outcome="success").count() == 1


def test_initial_password_must_be_changed_before_anything_else(client, account):
    account.must_change_password = True
    account.save()
    client.force_login(account)
    assert client.get(reverse("core:user_list")).url == reverse("password_change")
    response = client.post(reverse("password_change"), {"old_password": PASSWORD, "new_password1": "abc",
                                                         "new_password2": "abc"})
    assert "至少" in response.content.decode()  # too short, rejected with a Chinese reason
    response = client.post(reverse("password_change"), {"old_password": PASSWORD,
                                                         "new_password1": "Bright-Harbor-2027",
                                                         "new_password2": "Bright-Harbor-2027"})
    assert response.status_code == 302
    account.refresh_from_db()
    assert not account.must_change_password and account.check_password("Bright-Harbor-2027")


def test_simple_passwords_fail_the_complexity_rule(client, account):
    client.force_login(account)
    response = client.post(reverse("password_change"), {"old_password": PASSWORD,
                                                         "new_password1": "abcdefghijkl",
                                                         "new_password2": "abcdefghijkl"})
    assert "至少三类" in response.content.decode()


def test_idle_session_is_signed_out_after_thirty_minutes(client, account, settings):
    client.force_login(account)
    client.get(reverse("password_change"))
    session = client.session
    session["qunli_last_seen"] = time.time() - 31 * 60
    session.save()
    response = client.get(reverse("password_change"))
    assert response.status_code == 302 and "timeout=1" in response.url
    assert LoginEvent.objects.filter(username="zhangsan", outcome="timeout").exists()
    assert client.get(reverse("password_change")).status_code == 302  # really signed out


def test_healthz_reports_database(client, db):
    data = client.get("/healthz").json()
    assert data["status"] == "ok" and data["database"]["status"] == "ok"


def test_favicon_is_served_locally_for_staff_pages_and_the_portal(client, db):
    from django.contrib.staticfiles import finders

    icon = client.get("/favicon.ico")
    assert icon.status_code == 301 and icon["Location"].endswith("qunli/icon.svg")
    assert finders.find("qunli/icon.svg")
    for url in (reverse("login"), "/portal/"):
        html = client.get(url).content.decode()
        assert 'rel="icon"' in html and "qunli/icon.svg" in html


def test_password_rules_speak_chinese_whatever_the_browser_language(client, account):
    client.force_login(account)
    response = client.post(reverse("password_change"), {"old_password": PASSWORD, "new_password1": "Ab1!",
                                                         "new_password2": "Ab1!"}, HTTP_ACCEPT_LANGUAGE="en-US")
    page = response.content.decode()
    assert "密码太短，至少需要 10 个字符（现在 4 个）" in page and "too short" not in page
    response = client.post(reverse("password_change"), {"old_password": PASSWORD, "new_password1": "Zhangsan-2027",
                                                         "new_password2": "Zhangsan-2027"})
    assert "密码与用户名太相似" in response.content.decode()


def test_a_username_differing_only_in_case_is_refused(db):
    from qunli.core.actions import ActionError, create_user
    from qunli.core.models import User

    admin = User.objects.create_user(username="sysadmin", password=PASSWORD, kind=User.Kind.SYSADMIN)
    create_user(admin, username="gonghui")
    with pytest.raises(ActionError, match="已有用户名“gonghui”，与“GONGHUI”只差大小写"):
        create_user(admin, username="GONGHUI")
    assert User.objects.filter(username__iexact="gonghui").count() == 1


def test_a_read_only_account_is_told_before_uploading_and_administrators_are_told_the_right_verb(client_for, accounts):
    page = client_for(accounts["leader"]).get("/core/import/")
    assert page.status_code == 403 and "只有查看权限，不能导入数据" in page.content.decode()
    from conftest import make_user
    from qunli.core.models import User

    auditor = make_user("shenji", kind=User.Kind.AUDITOR)
    page = client_for(auditor).get("/core/export/")
    assert page.status_code == 403 and "三员账户不能导出业务数据" in page.content.decode()
