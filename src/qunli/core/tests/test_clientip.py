"""client_ip: X-Forwarded-For is believed only from a trusted proxy, and read from the right."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from qunli.core.clientip import client_ip, log_ip

rf = RequestFactory()
# no query here; marked so the session's seeded-rows fixture finds a test database when this
# file runs alone (pytest-django builds databases only for sessions whose tests use one)
pytestmark = pytest.mark.django_db


def req(peer, xff=None):
    extra = {"REMOTE_ADDR": peer}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return rf.get("/", **extra)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.QUNLI_TRUSTED_PROXIES = []
    assert client_ip(req("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


def test_spoofed_header_from_an_untrusted_peer_is_ignored(settings):
    settings.QUNLI_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    assert client_ip(req("203.0.113.7", "198.51.100.1")) == "203.0.113.7"
    assert client_ip(req("203.0.113.7", "10.0.0.5, 127.0.0.1")) == "203.0.113.7"


def test_trusted_proxy_gives_the_rightmost_untrusted_address(settings):
    settings.QUNLI_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    # the client sent its own (spoofed) header; our proxies appended the real hops to the right
    assert client_ip(req("127.0.0.1", "1.2.3.4, 203.0.113.9, 10.1.2.3")) == "203.0.113.9"
    assert client_ip(req("127.0.0.1", "198.51.100.20")) == "198.51.100.20"
    # several header lines joined by the server, spaces and empty items tolerated
    assert client_ip(req("10.9.9.9", " 198.51.100.21 ,, ")) == "198.51.100.21"


def test_trusted_proxy_without_header_or_with_only_proxies(settings):
    settings.QUNLI_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    assert client_ip(req("127.0.0.1")) == "127.0.0.1"
    assert client_ip(req("127.0.0.1", "10.0.0.2, 10.0.0.3")) == "10.0.0.2"


def test_malformed_entry_stops_at_the_last_trusted_hop(settings):
    settings.QUNLI_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    assert client_ip(req("127.0.0.1", "198.51.100.1, <script>, 10.0.0.4")) == "10.0.0.4"
    assert client_ip(req("127.0.0.1", "unknown")) == "127.0.0.1"


def test_ipv6_and_ports(settings):
    settings.QUNLI_TRUSTED_PROXIES = ["::1", "127.0.0.1"]
    assert client_ip(req("::1", "2001:db8::5")) == "2001:db8::5"
    assert client_ip(req("127.0.0.1", "[2001:db8::6]:443")) == "2001:db8::6"
    assert client_ip(req("127.0.0.1", "198.51.100.3:5555")) == "198.51.100.3"
    assert client_ip(req("::ffff:127.0.0.1", "198.51.100.4")) == "198.51.100.4"  # v4-mapped peer


def test_bad_setting_is_a_configuration_error(settings):
    settings.QUNLI_TRUSTED_PROXIES = ["not-an-address"]
    with pytest.raises(ImproperlyConfigured):
        client_ip(req("127.0.0.1", "198.51.100.1"))


def test_log_ip_is_none_without_an_address(settings):
    settings.QUNLI_TRUSTED_PROXIES = []
    assert log_ip(req("")) is None
    assert log_ip(req("198.51.100.8")) == "198.51.100.8"
