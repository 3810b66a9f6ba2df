"""Dates as 群团 offices write them in forms and registers — 2025-09-24 — everywhere: Django's
zh_Hans default (2025年9月24日) made lists and detail pages disagree."""

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
MONTH_DAY_FORMAT = "m-d"
YEAR_MONTH_FORMAT = "Y-m"
