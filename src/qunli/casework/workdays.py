"""The working-day calendar: Monday to Friday, minus public holidays, plus make-up working
days (调休上班), both kept in ``Holiday`` (seeded from the ``chinese-calendar`` package for
the years it covers, editable by the system administrator)."""

import datetime as dt

HOLIDAY_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "National Day": "国庆节", "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


def package_rows() -> list[tuple[dt.date, bool, str]]:
    """(date, is_workday, name) for every day the chinese-calendar package lists."""
    from chinese_calendar.constants import holidays, workdays

    rows = [(d, False, HOLIDAY_NAMES.get(n, n)) for d, n in holidays.items()]
    rows += [(d, True, HOLIDAY_NAMES.get(n, n)) for d, n in workdays.items()]
    return sorted(rows)


# Public holidays on fixed dates (全国年节及纪念日放假办法, 2025): 元旦, 劳动节 (2 days), 国庆节
# (3 days). A year whose arrangement the State Council has not yet published (it does so in
# the preceding November or December) still keeps these; the lunar ones (春节, 端午, 中秋) and
# 清明 are not known before then.
FIXED_HOLIDAYS = ((1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3))


def years_without_calendar(years) -> list[int]:
    """Of ``years``, those without any recorded holiday or make-up day: their deadlines are
    computed on weekends and the fixed-date holidays only."""
    from .models import Holiday

    years = sorted(set(years))
    if not years:
        return []
    known = {d.year for d in Holiday.objects.filter(date__year__gte=years[0], date__year__lte=years[-1])
             .dates("date", "year")}
    return [y for y in years if y not in known]


class Calendar:
    """The exceptions between two dates, loaded once; answers without further queries."""

    def __init__(self, exceptions: dict[dt.date, bool], unknown_years=()):
        self.exceptions = exceptions
        self.unknown_years = set(unknown_years)

    @classmethod
    def load(cls, start: dt.date, end: dt.date) -> "Calendar":
        from .models import Holiday

        rows = Holiday.objects.filter(date__gte=start, date__lte=end).values_list("date", "is_workday")
        return cls(dict(rows), years_without_calendar(range(start.year, end.year + 1)))

    def is_workday(self, day: dt.date) -> bool:
        if day in self.exceptions:
            return self.exceptions[day]
        if day.year in self.unknown_years and (day.month, day.day) in FIXED_HOLIDAYS:
            return False
        return day.weekday() < 5


def _window(start: dt.date, n: int) -> dt.date:
    # Even the longest holiday run (春节 + weekends) leaves far more than 5 working days per 14.
    return start + dt.timedelta(days=n * 3 + 30)


def add_working_days(start: dt.date, n: int, calendar: Calendar | None = None) -> dt.date:
    """The date ``n`` working days after ``start`` (n = 0: start itself if it is a working
    day, else the next one). A request received on Friday with a one-day limit is due on
    Monday; received before a holiday week, after it."""
    if isinstance(start, dt.datetime):
        start = start.date()
    cal = calendar or Calendar.load(start, _window(start, n))
    day = start
    if n == 0:
        while not cal.is_workday(day):
            day += dt.timedelta(days=1)
        return day
    left = n
    while left > 0:
        day += dt.timedelta(days=1)
        if cal.is_workday(day):
            left -= 1
    return day


def time_limits(day: dt.date, acknowledge_days: int, resolve_days: int) -> tuple[dt.date, dt.date]:
    """A case's 受理时限 and 办结时限 from ``day``, on one calendar loaded once."""
    cal = Calendar.load(day, _window(day, max(acknowledge_days, resolve_days)))
    return add_working_days(day, acknowledge_days, cal), add_working_days(day, resolve_days, cal)


def working_days_between(start: dt.date, end: dt.date, calendar: Calendar | None = None) -> int:
    """Working days after ``start`` up to and including ``end`` (negative when end < start)."""
    if end < start:
        return -working_days_between(end, start, calendar)
    cal = calendar or Calendar.load(start, end)
    n, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        n += cal.is_workday(day)
    return n
