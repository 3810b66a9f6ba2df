"""Rate limits for the public portal, shared by every worker process.

Why a table and not Django's cache: the default LocMem cache is per process (two gunicorn
workers would each allow the full quota), and DatabaseCache's ``incr`` is a read followed by
a write (two concurrent hits can both read 4 and both write 5). ``RateLimit`` is one row per
(limit, hashed subject, window) incremented by a single atomic upsert
(``INSERT … ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count``, SQLite ≥ 3.35 and
PostgreSQL), so the count is exact under concurrency, needs no extra service and no
``createcachetable`` step, and comes with the app's migration.

Limits (count, window in seconds) default to ``DEFAULT_LIMITS``; ``settings.QUNLI_PORTAL_RATE_LIMITS``
may override single entries, and the environment variable ``QUNLI_PORTAL_RATE_FACTOR``
(an integer, default 1) multiplies every count.

Each public form counts two things per IP (``views.guarded_form``): every POST
under a generous limit (a script cannot hammer the form), and accepted submissions under a
realistic quota — a hit for a submission that is then refused (by another limit or by the
action) is taken back with ``refund``, so a citizen's mistakes never use up the quota.

The address counted per IP is ``core.clientip.client_ip(request)``: behind a reverse proxy
listed in ``QUNLI_TRUSTED_PROXIES`` it is the client's address from ``X-Forwarded-For`` (read
from the right), otherwise the direct peer; a spoofed header from anyone else is ignored."""

import os
import random
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from qunli.core import crypto
from qunli.core.clientip import client_ip  # noqa: F401 - the portal's views count per client_ip(request)

from .models import RateLimit

DEFAULT_LIMITS = {
    # accepted submissions per IP address per hour: a 关爱工作站 computer helping villagers or a
    # carrier's shared address (CGNAT) sends many citizens' requests from one address
    "submit_ip": (20, 3600),
    # every POST of the submit form per IP address per hour, refused ones included: a citizen
    # may need several tries to get the form right, a script hammering the form may not
    "submit_posts_ip": (100, 3600),
    "submit_phone": (3, 86400),  # accepted-for-processing submissions per phone number per day
    "track_ip": (20, 3600),  # tracking attempts per IP address per hour (stops code guessing)
    "track_code": (10, 86400),  # attempts on one tracking code per day (stops last-4 guessing from many IPs)
    "claim_ip": (10, 3600),  # accepted wish claims per IP address per hour
    "claim_posts_ip": (60, 3600),  # every POST of the claim form per IP address per hour
    "claim_phone": (3, 86400),  # accepted-for-processing wish claims per phone number per day
    "use_ip": (5, 3600),  # accepted online use requests per IP address per hour
    "use_posts_ip": (30, 3600),  # every POST of the use-request form per IP address per hour
    "use_phone": (3, 86400),  # accepted-for-processing use requests per phone number per day
    "reading_ip": (20, 3600),  # reading-room sign-in attempts per IP per hour (stops code guessing)
    "reading_code": (10, 86400),  # attempts on one 利用单号 per day (stops last-4 guessing)
    "page_ip": (600, 3600),  # watermarked page images rendered per IP per hour
    "verify_ip": (30, 3600),  # certificate verifications per IP per hour
    "catalogue_export_ip": (10, 3600),  # public catalogue exports per IP per hour
}


def limit(name: str) -> tuple[int, int]:
    count, window = {**DEFAULT_LIMITS, **getattr(settings, "QUNLI_PORTAL_RATE_LIMITS", {})}[name]
    try:
        factor = max(1, int(os.environ.get("QUNLI_PORTAL_RATE_FACTOR", "1")))
    except ValueError:
        factor = 1
    return count * factor, window


def _key(name: str, subject: str) -> str:
    return f"{name}:{crypto.blind_index(subject)}"[:64]


def hit(name: str, subject: str) -> bool:
    """Count one event for ``subject`` under limit ``name``; False when it is over the limit."""
    allowed, window = limit(name)
    now = time.time()
    bucket = int(now // window)
    key = _key(name, subject)
    expires = timezone.now() + timedelta(seconds=window - (now % window))
    q = connection.ops.quote_name
    table, k, n = q(RateLimit._meta.db_table), q("key"), q("count")
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} ({k}, bucket, {n}, expires_at) VALUES (%s, %s, 1, %s) "
            f"ON CONFLICT ({k}, bucket) DO UPDATE SET {n} = {table}.{n} + 1 RETURNING {n}",
            [key, bucket, expires])
        count = cur.fetchone()[0]
    if count == 1 and random.random() < 0.01:  # now and then, forget windows that are over
        RateLimit.objects.filter(expires_at__lt=timezone.now()).delete()
    return count <= allowed


def refund(name: str, subject: str) -> None:
    """Take back one ``hit`` that did not lead to an accepted submission (refused by its own
    limit, by another limit or by the action), so the limit counts accepted ones only. An
    atomic decrement of the current window's row; never below zero."""
    _, window = limit(name)
    bucket = int(time.time() // window)
    RateLimit.objects.filter(key=_key(name, subject), bucket=bucket, count__gt=0).update(count=F("count") - 1)
