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


# --- a year whose arrangement is not recorded yet ----------------------------------------------------------

def test_a_year_without_calendar_data_keeps_the_fixed_date_holidays():
    """2040 and 2041 have no rows: 元旦 2041 (a Tuesday) is still no working day, so a request
    received on Monday 31 December with a one-day limit is due on Wednesday, not on 元旦; and
    国庆 2040 (Monday to Wednesday) is skipped."""
    from qunli.casework.workdays import add_working_days

    assert add_working_days(dt.date(2040, 12, 31), 1) == dt.date(2041, 1, 2)
    assert add_working_days(dt.date(2040, 9, 28), 1) == dt.date(2040, 10, 4)


def test_a_recorded_year_follows_its_rows_not_the_fixed_dates(accounts):
    from qunli.casework import actions
    from qunli.casework.workdays import add_working_days

    actions.set_holiday(accounts["sysadmin"], date=dt.date(2040, 5, 5), is_workday=False, name="劳动节")
    # 2040 now has an arrangement: 1–2 May are working days unless recorded (they are not)
    assert add_working_days(dt.date(2040, 4, 30), 1) == dt.date(2040, 5, 1)


def test_the_holidays_page_and_the_due_list_warn_of_a_year_not_recorded(client_for, accounts):
    page = client_for(accounts["sysadmin"]).get(reverse("casework:holidays"), {"year": 2040}).content.decode()
    assert 'id="calendar-missing"' in page and "2040年的节假日安排尚未录入" in page
    from django.utils import timezone

    from qunli.casework.models import Holiday

    Holiday.objects.filter(date__year=timezone.localdate().year + 1).delete()  # not published yet
    due = client_for(accounts["women_staff"]).get(reverse("casework:due")).content.decode()
    assert 'id="calendar-missing"' in due
