"""The submit form's rate limits count accepted submissions per IP (a realistic quota for a
关爱工作站 computer or a carrier's shared address) and per phone; a citizen's refused tries
(form errors, the honeypot, a refusal by the action) use up none of it, while a separate,
more generous per-IP counter of every POST still stops a script hammering the form."""

import pytest
from django.test import Client
from django.urls import reverse

from qunli.casework.models import Request
from qunli.core.actions import ActionError
from qunli.portal import actions, ratelimit
from qunli.portal.tests.test_portal import form_data

pytestmark = pytest.mark.django_db


def post(client, tree, **over):
    return client.post(reverse("portal:submit"), form_data(tree, **over))


def test_the_per_ip_quota_of_accepted_submissions_is_realistic(db):
    accepted, window = ratelimit.limit("submit_ip")
    posts, posts_window = ratelimit.limit("submit_posts_ip")
    assert accepted >= 20 and window == 3600
    assert posts > accepted and posts_window == 3600  # the flood counter is the more generous one


def test_invalid_posts_then_valid_ones_are_still_accepted(tree):
    station = Client(REMOTE_ADDR="10.7.0.1")  # one 关爱工作站 computer helping many villagers
    assert post(station, tree, phone="12345").status_code == 200  # 请填写11位手机号码
    assert post(station, tree, consent="").status_code == 200  # forgot the consent box
    assert post(station, tree, website="http://spam.example").status_code == 400  # honeypot
    quota = ratelimit.limit("submit_ip")[0]
    for i in range(quota):
        r = post(station, tree, phone=f"139000{i:05d}")
        assert r.status_code == 302, (i, r.content.decode()[:300])
    assert Request.objects.count() == quota
    r = post(station, tree, phone="13800000000")  # the quota of accepted ones is used up now
    assert r.status_code == 429 and "操作过于频繁" in r.content.decode()
    assert Request.objects.count() == quota


def test_a_submission_the_action_refuses_gives_its_quota_back(tree, settings, monkeypatch):
    settings.QUNLI_PORTAL_RATE_LIMITS = {"submit_ip": (1, 3600), "submit_phone": (1, 86400)}
    real = actions.submit_request

    def refuse_once(**kw):
        monkeypatch.setattr(actions, "submit_request", real)
        raise ActionError("请选择受理单位。")

    monkeypatch.setattr(actions, "submit_request", refuse_once)
    c = Client(REMOTE_ADDR="10.7.0.2")
    r = post(c, tree)
    assert r.status_code == 200 and "请选择受理单位" in r.content.decode()
    assert post(c, tree).status_code == 302  # neither the address's nor the phone's one submission was used
    assert post(c, tree, phone="13800000001").status_code == 429


def test_a_flood_of_invalid_posts_still_gets_the_chinese_429(tree, settings):
    settings.QUNLI_PORTAL_RATE_LIMITS = {"submit_posts_ip": (8, 3600)}
    script = Client(REMOTE_ADDR="10.7.0.3")
    for _ in range(8):
        assert post(script, tree, phone="1").status_code == 200
    r = post(script, tree)  # even a valid one, once flooded
    assert r.status_code == 429
    html = r.content.decode()
    assert "操作过于频繁" in html and "请稍后再试" in html
    assert not Request.objects.exists()
    assert post(Client(REMOTE_ADDR="10.7.0.4"), tree).status_code == 302  # another address is not affected


def test_refund_never_goes_below_zero_and_counts_per_subject(db):
    ratelimit.refund("submit_ip", "10.7.0.9")  # nothing counted yet: nothing to give back
    assert ratelimit.hit("submit_ip", "10.7.0.9")
    ratelimit.refund("submit_ip", "10.7.0.9")
    ratelimit.refund("submit_ip", "10.7.0.9")
    from qunli.portal.models import RateLimit

    assert RateLimit.objects.get().count == 0
