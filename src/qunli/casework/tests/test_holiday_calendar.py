"""The holiday calendar says when an entry changes nothing — a 放假 on a Saturday or Sunday,
a 调休上班 on a weekday — usually a date typed wrong; a real one is saved without a warning."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

pytestmark = pytest.mark.django_db


def save(client, day, is_workday):
    r = client.post(reverse("casework:holidays"), {"date": day.isoformat(), "is_workday": "on" if is_workday else "",
                                                   "name": "测试"})
    assert r.status_code == 302
    shown = client.get(r["Location"])  # the page the user lands on shows (and uses up) the messages
    return [(m.level_tag, m.message) for m in get_messages(shown.wsgi_request)]


def test_redundant_entries_are_saved_with_a_warning_naming_the_weekday(client_for, accounts):
    c = client_for(accounts["sysadmin"])
    sunday, wednesday = dt.date(2031, 3, 9), dt.date(2031, 3, 12)
    msgs = save(c, sunday, False)
    assert ("warning", "2031-03-09 是星期日，本来就是休息日：登记为放假不改变时限计算，请核对日期。") in msgs
    msgs = save(c, wednesday, True)
    assert any(t == "warning" and "星期三" in m and "本来就是工作日" in m for t, m in msgs)


def test_meaningful_entries_get_no_warning(client_for, accounts):
    c = client_for(accounts["sysadmin"])
    msgs = save(c, dt.date(2031, 3, 11), False) + save(c, dt.date(2031, 3, 15), True)  # a Tuesday off, a Saturday on
    assert [t for t, _ in msgs] == ["success", "success"]
    assert msgs[0][1] == "已保存 2031-03-11 测试（放假）。"
