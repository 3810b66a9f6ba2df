"""Data for the ``caseload`` benchmark: a province's casework history, generated once.

The province tree is built with the demo generator's ``TreeBuilder`` (same paths, same
names): 14 cities, 33 counties, each county with its line units and ``townships`` 乡镇 with
theirs. Four lines handle cases (工会, 妇联, 共青团, 关工委); in each county each of them has
a team — one supervisor (督导) and ``workers`` caseworkers (个案社工), every one a staff grant
on the county for that line, as the demo's 县妇联 account has. Cases (with their requests)
are spread evenly over the teams, received over five years before the day of generation:
older than 90 days almost all closed, recent ones at every step, the last two days partly
unassigned (受理, no caseworker yet); caseworkers' loads are uneven (the first of a team
takes the most), 3 % of cases have an added member, and a few hundred are pending referral
to another county. At 1,000,000 cases a supervisor holds about 7,600 cases and a
caseworker 300–1,100.

Rows are written with one prepared ``INSERT`` per table (``executemany``) under explicit
primary keys, the way ``qunli.demo.insert_rows`` does, straight from tuples; on PostgreSQL
they stream through ``COPY`` instead. Sealed columns
(requester name, phone, description) hold real ciphertext and a real blind index and mask,
but one ciphertext per distinct value is reused across rows: the lists never decrypt.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

CASE_LINES = ("union", "women", "league", "ggw")
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CHUNK = 20_000


@dataclass(frozen=True)
class Spec:
    cases: int
    counties: int = 33
    townships: int = 15
    workers: int = 12


def _inserter(model):
    """(target, width, row builder) for ``model``: the target is ``table (columns)`` for an
    INSERT or a COPY, width the number of columns; the builder turns a dict of attnames into a tuple,
    filling every other column with the field's default and adapting dates for the backend."""
    from django.db import connection
    from django.db import models as m

    ops = connection.ops
    fields = list(model._meta.concrete_fields)
    cols = ", ".join(ops.quote_name(f.column) for f in fields)
    target = f"{ops.quote_name(model._meta.db_table)} ({cols})"
    plan = []
    for f in fields:
        if isinstance(f, m.DateTimeField):
            conv = ops.adapt_datetimefield_value
        elif isinstance(f, m.DateField):
            conv = ops.adapt_datefield_value
        else:
            conv = None
        default = None if f.null and not f.has_default() else f.get_default()
        plan.append((f.attname, default, conv))

    def row(values: dict) -> tuple:
        out = []
        for name, default, conv in plan:
            v = values.get(name, default)
            out.append(conv(v) if conv is not None and v is not None else v)
        return tuple(out)

    return target, len(fields), row


def _write(model, dict_rows) -> int:
    from django.db import connection

    if connection.vendor == "postgresql":
        return _copy(model, dict_rows)
    target, width, row = _inserter(model)
    sql = f"INSERT INTO {target} VALUES ({', '.join(['%s'] * width)})"
    n, batch = 0, []
    with connection.cursor() as cur:
        for d in dict_rows:
            batch.append(row(d))
            if len(batch) >= CHUNK:
                cur.executemany(sql, batch)
                n += len(batch)
                batch = []
        if batch:
            cur.executemany(sql, batch)
            n += len(batch)
    return n


def _copy(model, dict_rows) -> int:
    """PostgreSQL: the rows stream through ``COPY … FROM STDIN`` — row by row through
    ``executemany`` the 1,000,000 cases took hours, the server parsing and binding each."""
    from django.db import connection

    target, _, row = _inserter(model)
    n = 0
    with connection.cursor() as cur, cur.cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for d in dict_rows:
            copy.write_row(row(d))
            n += 1
    return n


def generate(spec: Spec, seed: int = 2026, say=print) -> dict:
    """Fill the (migrated, empty) default database. Returns counts."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from qunli.casework.models import Case, CaseMember, Channel, Referral, Request, RequestType, mask_name
    from qunli.core import crypto
    from qunli.core.models import Grant, User
    from qunli.demo import (
        DEMO_PASSWORD,
        LINE_UNIT_NAMES,
        SCALES,
        TOWNSHIP_LINES,
        Gen,
        TreeBuilder,
        _city_plan,
        path_step,
    )
    from qunli.orgs.models import Level, UnitKind

    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        gen = Gen(seed, SCALES["province"])
        tb = TreeBuilder(gen)
        prov = tb.root(path_step(1), name="甘肃省", short_name="甘肃", level=Level.PROVINCE, division_code="620000",
                       kind=UnitKind.GEOGRAPHIC)
        teams = []  # (county node, line code, [county line unit, township line units …])
        left = spec.counties
        for cname, ccode, counties in _city_plan(SCALES["province"]):
            counties = counties[:left]
            if not counties:
                continue
            left -= len(counties)
            city = tb.child(prov, name=cname, level=Level.CITY, division_code=f"{ccode}00", kind=UnitKind.GEOGRAPHIC)
            tb.line_units(city, LINE_UNIT_NAMES, cname, Level.CITY, UnitKind.ORGAN)
            for name, code6 in counties:
                county = tb.child(city, name=name, level=Level.COUNTY, division_code=code6, kind=UnitKind.GEOGRAPHIC)
                tb.line_units(county, LINE_UNIT_NAMES, name, Level.COUNTY, UnitKind.ORGAN)
                towns = []
                for t in range(spec.townships):
                    tname = f"{name[:2]}{t + 1}镇"
                    town = tb.child(county, name=tname, level=Level.TOWNSHIP, division_code=f"{code6}{100 + t:03d}",
                                    kind=UnitKind.GEOGRAPHIC)
                    tb.line_units(town, TOWNSHIP_LINES, tname, Level.TOWNSHIP, UnitKind.ORGAN)
                    towns.append(town)
                for code in CASE_LINES:
                    teams.append((county, code, [county.lines[code]] + [t.lines[code] for t in towns]))
        n_units = len(tb.nodes)
        tb.flush()

        # accounts and grants: per team one supervisor and its caseworkers
        hashed = make_password(DEMO_PASSWORD)
        users, grants, grant_lines = [], [], []
        team_users = []
        uid = gid = 1000
        line_ids = gen.lines
        for ti, (county, code, _units) in enumerate(teams):
            members = []
            for k in range(spec.workers + 1):
                uid += 1
                gid += 1
                role = "dudao" if k == 0 else f"shegong{k:02d}"
                users.append({"id": uid, "username": f"{role}-{ti:03d}", "display_name": f"{role}{ti}",
                              "kind": User.Kind.BUSINESS, "password": hashed, "must_change_password": False,
                              "password_changed_at": now, "is_active": True, "date_joined": now})
                grants.append({"id": gid, "user_id": uid, "role": "staff", "unit_id": county.pk, "all_lines": False,
                               "created_at": now})
                grant_lines.append({"id": gid, "grant_id": gid, "line_id": line_ids[code].pk})
                members.append(uid)
            team_users.append(members)
        _write(User, users)
        _write(Grant, grants)
        _write(Grant.lines.through, grant_lines)
        say(f"caseload: {n_units} units, {len(teams)} teams, {len(users)} accounts")

    types = list(RequestType.objects.filter(is_active=True).values_list("pk", "acknowledge_days", "resolve_days"))
    channels = Channel.values
    S = Case.Status
    open_steps = [S.ASSIGNED, S.ASSESSED, S.PLANNED, S.IN_SERVICE, S.FOLLOW_UP, S.CLOSED]
    weights = [[1 / (k + 1) ** 0.6 for k in range(spec.workers)]]
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗"
    names = {s: crypto.encrypt(s + "某某") for s in surnames}
    description = crypto.encrypt("单位拖欠工资三个月，多次讨要未果，请求帮助维权。" * 3)
    phone_enc = crypto.encrypt("13900000000")
    blind = crypto.bulk_functions()[1]
    codes: set[str] = set()
    members_rows, referral_rows = [], []
    counts = {"cases": 0, "closed": 0, "unassigned": 0, "members": 0, "referrals": 0}

    def chunk(start: int, n: int):
        reqs, cases = [], []
        for i in range(start, start + n):
            pk = i + 1
            ti = rng.randrange(len(teams))
            county, code, units = teams[ti]
            crew = team_users[ti]
            unit = units[0] if rng.random() < 0.4 else rng.choice(units[1:] or units)
            age = rng.random() * 5 * 365
            received = now - dt.timedelta(days=age)
            day = timezone.localdate(received)
            tpk, ack_days, res_days = rng.choice(types)
            while True:
                tracking = "".join(rng.choices(ALPHABET, k=10))
                if tracking not in codes:
                    codes.add(tracking)
                    break
            phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
            s = rng.choice(surnames)
            reqs.append({"id": pk, "channel": rng.choice(channels), "type_id": tpk, "unit_id": unit.pk,
                         "requester_name_enc": names[s], "requester_name_mask": mask_name(s + "某某"),
                         "requester_phone_enc": phone_enc, "requester_phone_hash": phone,
                         "requester_phone_mask": crypto.mask_phone(phone), "description_enc": description,
                         "tracking_code": tracking, "received_at": received, "served_person_id": None,
                         "received_by_id": crew[0]})
            c = {"id": pk, "request_id": pk, "unit_id": unit.pk, "created_at": received,
                 "acknowledge_due": day + dt.timedelta(days=ack_days + (2 if day.weekday() >= 4 else 0)),
                 "resolve_due": day + dt.timedelta(days=res_days * 7 // 5 + 1), "reopen_count": 0}
            if age < 2 and rng.random() < 0.5:
                c.update(status=S.RECEIVED, caseworker_id=None, supervisor_id=None)
                counts["unassigned"] += 1
            else:
                worker = rng.choices(crew[1:], weights=weights[0])[0]
                status = S.CLOSED if age > 90 and rng.random() < 0.985 else rng.choice(open_steps)
                c.update(status=status, caseworker_id=worker, supervisor_id=crew[0],
                         acknowledged_at=received + dt.timedelta(hours=rng.randint(1, 30)))
                if status == S.CLOSED:
                    closed = received + dt.timedelta(days=rng.uniform(3, min(60, max(3.5, age))))
                    c.update(closed_at=min(closed, now), outcome="已办结", satisfaction=rng.choice((3, 4, 4, 5, 5, 5)))
                    counts["closed"] += 1
                if rng.random() < 0.03:
                    other = rng.choice([u for u in crew[1:] if u != worker])
                    members_rows.append({"case_id": pk, "user_id": other, "added_by_id": worker,
                                         "added_at": received + dt.timedelta(days=1)})
                if status != S.CLOSED and rng.random() < 0.01 and len(referral_rows) < 300:
                    dest = teams[(ti + len(CASE_LINES)) % len(teams)][2][0]
                    referral_rows.append({"case_id": pk, "kind": "transfer", "from_unit_id": unit.pk,
                                          "to_unit_id": dest.pk, "reason": "属地管辖", "status": "pending",
                                          "created_by_id": worker, "created_at": now - dt.timedelta(hours=5)})
            cases.append(c)
        for r in reqs:
            r["requester_phone_hash"] = blind(r["requester_phone_hash"])
        return reqs, cases

    step = 100_000
    for start in range(0, spec.cases, step):
        n = min(step, spec.cases - start)
        reqs, cases = chunk(start, n)
        with transaction.atomic():
            _write(Request, reqs)
            _write(Case, cases)
        counts["cases"] += n
        say(f"caseload: {counts['cases']:,} / {spec.cases:,} cases")
    with transaction.atomic():
        counts["members"] = _write(CaseMember, ({"id": i + 1, **r} for i, r in enumerate(members_rows)))
        counts["referrals"] = _write(Referral, ({"id": i + 1, **r} for i, r in enumerate(referral_rows)))
    counts.update(units=n_units, teams=len(teams), accounts=len(users))
    from django.db import connection

    if connection.vendor == "postgresql":  # rows came with explicit keys: move the sequences past them
        from django.core.management.color import no_style

        from qunli.orgs.models import Unit

        with connection.cursor() as cur:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Unit, User, Grant, Grant.lines.through, Request,
                                                                      Case, CaseMember, Referral]):
                cur.execute(sql)
    return counts
