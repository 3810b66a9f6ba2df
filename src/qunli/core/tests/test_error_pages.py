"""Error pages speak Chinese, keep the portal's layout, answer JSON under /api/, and show a
view's own (Chinese) reason but never Django's English internals."""

import json

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client, RequestFactory

from qunli.core import errors


def test_unknown_staff_url_gets_a_chinese_404_page(client, db):
    r = client.get("/no/such/page/")
    assert r.status_code == 404
    html = r.content.decode()
    assert 'lang="zh-CN"' in html and "页面不存在" in html
    assert "Not Found" not in html and "tried" not in html


def test_unknown_portal_url_keeps_the_portal_layout(client, db):
    html = client.get("/portal/no-such-page/").content.decode()
    assert "网上群团" in html and "页面不存在" in html and "退出" not in html


def test_unknown_api_url_answers_json_in_chinese(client, db):
    r = client.get("/api/no-such-endpoint")
    assert r.status_code == 404 and r["Content-Type"].startswith("application/json")
    assert "不存在" in json.loads(r.content)["detail"][0]


def test_signed_in_user_sees_the_error_inside_the_navigation(client_for, accounts):
    html = client_for(accounts["party_office"]).get("/no/such/page/").content.decode()
    assert "页面不存在" in html and "模块导航" in html


def test_a_views_own_chinese_reason_is_shown(db):
    request = RequestFactory().get("/records/x/")
    request.user = _anonymous()
    r = errors.permission_denied(request, PermissionDenied("只有接收单位的档案管理人员才能退回。"))
    assert r.status_code == 403 and "只有接收单位的档案管理人员才能退回。" in r.content.decode()


def test_djangos_english_reason_is_replaced_by_a_chinese_one(db):
    request = RequestFactory().get("/casework/1/")
    request.user = _anonymous()
    r = errors.page_not_found(request, Http404("No Case matches the given query."))
    html = r.content.decode()
    assert "No Case matches" not in html and "页面不存在" in html


def test_server_error_page_renders_without_the_request_context(db):
    r = errors.server_error(RequestFactory().get("/orgs/"))
    assert r.status_code == 500 and "系统出错" in r.content.decode()


def test_form_posted_without_its_csrf_token_is_told_to_refresh_in_chinese(db):
    r = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x", "password": "y"})
    assert r.status_code == 403
    html = r.content.decode()
    assert "刷新页面" in html and "CSRF verification failed" not in html


def _anonymous():
    from django.contrib.auth.models import AnonymousUser

    return AnonymousUser()
