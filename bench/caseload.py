"""``qunli bench caseload [--scale province|quick|N] --json``

A caseworker's and a supervisor's case lists at province scale: 1,000,000 cases (with their
requests) over a province's tree, generated once by ``bench/caseload_data.py`` into
``cache_dir("caseload")`` and reused (``quick``: 3,000 cases over two counties, for the
smoke test; a number: that many cases over the province). With ``DATABASE_URL`` pointing at
PostgreSQL the data is generated once into that (empty, dedicated) database instead.

Measured in this process, on the cached SQLite database, with the real views
(``casework.views.MyCasesView`` 我的个案 and ``SupervisedView`` 督导个案) and users: the
supervisor of one team (≈7,600 cases at 1M) and that team's busiest caseworker.

* ``caseworker_p95_ms`` / ``supervisor_p95_ms`` (targets ≤ 50 each): the list's database
  work as the view does it — the scoped, need-to-know queryset with the view's filters, the
  first page of 50 sorted by the resolve date (with its related rows) and the paginator's
  capped count. ``p95_ms`` is over both lists (the ratio's metric).
* ``*_page_p95_ms``: the whole view, built by ``RequestFactory`` as a signed-in request
  reaches it and rendered to HTML (template and 50 rows included; middleware excluded) —
  reported, no target: rendering costs the same at any scale.
* the same lists sorted by 受理时间 (``*_by_received_*``) and the supervisor's 全部个案 list.

Peer ``or_filter``: the same views as they were before — the need-to-know rule written as
one ``WHERE`` OR-ing the team conditions (caseworker, supervisor, member subquery) with the
intake and referral conditions, each under its grant, which no index can serve (the
database walks the grant's whole subtree of cases), then the view's role filter, a page
query and a separate capped count. Its page and count are checked against ours. The ratio
is on ``p95_ms``. The peer runs on the same (current) schema, so it profits from the
covering ``(user, resolve_due, id, unit)`` indexes too: it measures the query's shape, not the
indexes (SQLite, at 1M, before both: ~100 ms for the caseworker and ~250 ms for the
supervisor under a load average of 8).
"""

from __future__ import annotations

import os
import time

from bench.caseload_data import Spec
from bench.common import cache_dir, latency_metrics, result

SPECS = {"province": Spec(cases=1_000_000), "quick": Spec(cases=3_000, counties=2, townships=3, workers=4)}
DATA_VERSION = 1
RUNS = 30
PEER_RUNS = 5


def database(scale: str, say=print):
    from bench.caseload_data import generate
    from bench.fresh import migrated_database

    spec = SPECS.get(scale) or Spec(cases=int(scale))
    path = cache_dir("caseload") / f"{scale}-{spec.cases}-v{DATA_VERSION}.sqlite3"

    def fill():
        from django.db import connection

        with connection.cursor() as cur:  # one-off bulk load: no journal
            cur.execute("PRAGMA journal_mode=OFF")
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-400000")
        t = time.perf_counter()
        counts = generate(spec, say=say)
        say(f"caseload: generated in {time.perf_counter() - t:.0f} s: {counts}")
        with connection.cursor() as cur:
            cur.execute("PRAGMA journal_mode=WAL")

    return migrated_database(path, fill), spec


def old_case_q(user, action="view"):
    """The need-to-know rule as first written (the peer): one OR of conditions."""
    from django.db.models import Q

    from qunli.casework.models import Case, CaseMember, Referral
    from qunli.core.scoping import CHANGE, any_of, scope_q

    grant = scope_q(Case.scope, user, action)
    change = scope_q(Case.scope, user, CHANGE)
    parts = []
    if grant is not None:
        team = Q(caseworker=user) | Q(supervisor=user) | Q(pk__in=CaseMember.objects.filter(user=user).values("case_id"))
        parts.append(grant & team)
    if change is not None:
        parts.append(change & Q(caseworker__isnull=True, status=Case.Status.RECEIVED))
        to_q = scope_q(Referral.receiver_scope, user, CHANGE)
        if to_q is not None:
            parts.append(Q(pk__in=Referral.objects.filter(to_q, status=Referral.Status.PENDING).values("case_id")))
    return any_of(parts)


def _views():
    from django.db.models import Q

    from qunli.casework import views
    from qunli.casework.models import Case, CaseMember
    from qunli.core.generic import CappedPaginator

    def peer(cls, kind):
        class Peer(cls):
            paginator_class = CappedPaginator  # as it was: page and count as two scoped queries

            def base_queryset(self):
                me = self.request.user
                q = old_case_q(me)
                qs = Case.objects.filter(q) if q is not None else Case.objects.none()
                if kind == "mine":
                    qs = qs.filter(Q(caseworker=me) | Q(pk__in=CaseMember.objects.filter(user=me).values("case_id")))
                elif kind == "supervised":
                    qs = qs.filter(supervisor=me)
                return qs.select_related(*self.select_related)

        Peer.__name__ = f"OrFilter{cls.__name__}"
        return Peer

    ours = {"mine": views.MyCasesView, "supervised": views.SupervisedView, "all": views.AllCasesView}
    return ours, {k: peer(v, k) for k, v in ours.items()}


def _render(view_cls, user, params=None):
    from django.test import RequestFactory
    from django_htmx.middleware import HtmxDetails

    request = RequestFactory().get("/casework/", params or {})
    request.user = user
    request.htmx = HtmxDetails(request)
    response = view_cls.as_view()(request)
    response.render()
    assert response.status_code == 200
    return response


def _query(view_cls, user, params=None):
    """The list's database work alone: the first page and the capped count."""
    from django.test import RequestFactory

    from qunli.core.generic import IdsFirstPaginator

    view = view_cls()
    view.request = RequestFactory().get("/casework/", params or {})
    view.request.user = user
    view.kwargs = {}
    qs, _form = view.filtered_queryset()
    sort = view.sort_key()
    qs = qs.order_by(sort, "pk")
    if view.paginator_class is IdsFirstPaginator:
        paginator = IdsFirstPaginator(qs, view.paginate_by, view.select_related, ids=view.sorted_ids(sort))
    else:
        paginator = view.paginator_class(qs, view.paginate_by)
    page = paginator.get_page(1)
    return [o.pk for o in page.object_list], page.paginator.count


def _timed(fn, runs):
    fn()
    out, samples = None, []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        samples.append((time.perf_counter() - t) * 1000)
    return samples, out


def _users():
    from django.db.models import Count

    from qunli.casework.models import Case
    from qunli.core.models import User

    sup_id = User.objects.filter(username__startswith="dudao-").order_by("username").values_list("pk", flat=True)[0]
    worker_id = (Case.objects.filter(supervisor_id=sup_id).values("caseworker").annotate(n=Count("pk"))
                 .order_by("-n").values_list("caseworker", flat=True)[0])
    return User.objects.get(pk=worker_id), User.objects.get(pk=sup_id)


def run(scale: str | None = None, stdout=None) -> dict:
    from qunli.demo import using_database

    scale = scale or "province"
    if scale not in SPECS and not scale.isdigit():
        raise ValueError(f"caseload: unknown scale {scale} (province, quick or a number of cases)")

    def say(msg):
        if stdout is not None:
            stdout.write(msg)

    from django.db import connection

    if connection.vendor == "postgresql":
        return _measure(scale, _postgres_data(scale, say), say)
    path, spec = database(scale, say)
    with using_database(path):
        return _measure(scale, spec, say)


def _postgres_data(scale: str, say) -> Spec:
    """On PostgreSQL (``DATABASE_URL``) the data lives in that database: migrated and
    generated there once when it holds no unit at all; a database with other data is
    refused (use a database of its own, e.g. ``qunli_caseload``)."""
    from django.core.management import call_command
    from django.db import connection

    from bench.caseload_data import generate
    from qunli.casework.models import Case
    from qunli.orgs.models import Unit

    spec = SPECS.get(scale) or Spec(cases=int(scale))
    call_command("migrate", verbosity=0, interactive=False)
    if not Unit.objects.exists():
        t = time.perf_counter()
        counts = generate(spec, say=say)
        say(f"caseload: generated in {time.perf_counter() - t:.0f} s: {counts}")
        with connection.cursor() as cur:  # as autovacuum leaves a table: visibility map set, statistics fresh
            cur.execute("VACUUM ANALYZE")
    elif Case.objects.count() != spec.cases or not Unit.objects.filter(name="甘肃省").exists():
        raise RuntimeError("caseload: this PostgreSQL database holds other data; point DATABASE_URL at an empty "
                           "database of its own (it is generated there once)")
    return spec


def _measure(scale, spec, say) -> dict:
    from qunli.casework.forms import ALL_STATUSES
    from qunli.casework.models import Case
    from qunli.core.scoping import forget_grants

    worker, sup = _users()
    n_cases = Case.objects.count()
    ours, peer = _views()
    loads = {"caseworker": Case.objects.filter(caseworker=worker).count(),
             "supervisor": Case.objects.filter(supervisor=sup).count()}
    say(f"caseload: load average {os.getloadavg()[0]:.2f}; {n_cases:,} cases; caseworker {worker.username} ({loads['caseworker']} cases), "
        f"supervisor {sup.username} ({loads['supervisor']} cases)")

    metrics, peer_metrics, agree = {}, {}, True
    # the whole of each list, closed cases included (the lists open on the open cases: a
    # narrower answer, cheaper or not, would not compare with the figures measured before)
    every = {"status": ALL_STATUSES}
    plan = [("caseworker", worker, "mine", every), ("supervisor", sup, "supervised", every),
            ("caseworker_by_received", worker, "mine", {**every, "sort": "-created_at"}),
            ("supervisor_by_received", sup, "supervised", {**every, "sort": "-created_at"}),
            ("supervisor_all", sup, "all", {})]
    headline = []
    for name, user, kind, params in plan:
        forget_grants(user)
        view_s, _ = _timed(lambda v=ours[kind], u=user, p=params: _render(v, u, p), RUNS)
        query_s, got = _timed(lambda v=ours[kind], u=user, p=params: _query(v, u, p), RUNS)
        metrics.update(latency_metrics(query_s, f"{name}_"))
        metrics.update(latency_metrics(view_s, f"{name}_page_"))
        metrics[f"{name}_rows"] = got[1]
        if name in ("caseworker", "supervisor"):
            headline += query_s
        say(f"  {name}: p95 {metrics[f'{name}_p95_ms']} ms (rendered page {metrics[f'{name}_page_p95_ms']} ms), "
            f"{got[1]} rows")
        if name in ("caseworker", "supervisor", "supervisor_all"):
            peer_view, _ = _timed(lambda v=peer[kind], u=user, p=params: _render(v, u, p), PEER_RUNS)
            peer_query, theirs = _timed(lambda v=peer[kind], u=user, p=params: _query(v, u, p), PEER_RUNS)
            peer_metrics.update(latency_metrics(peer_query, f"{name}_"))
            peer_metrics.update(latency_metrics(peer_view, f"{name}_page_"))
            peer_metrics.setdefault("_headline", []).extend(peer_query if name != "supervisor_all" else [])
            agree = agree and theirs == got  # same page, same count
            say(f"  or_filter {name}: p95 {peer_metrics[f'{name}_p95_ms']} ms")
    peer_headline = peer_metrics.pop("_headline")
    metrics.update(latency_metrics(headline))
    load = os.getloadavg()
    metrics.update({"machine_load_1m": round(load[0], 2), "machine_load_5m": round(load[1], 2), "cases": n_cases, "caseworker_cases": loads["caseworker"], "supervisor_cases": loads["supervisor"],
                    "peer_answer_matches": agree, "errors": 0 if agree else 1})
    peers = {"or_filter": {**latency_metrics(peer_headline), **peer_metrics}}
    return result("caseload", f"{scale}: {n_cases} cases, {spec.counties} counties × 4 lines, a team = 1 supervisor + "
                              f"{spec.workers} caseworkers; lists timed in-process",
                  metrics, peers, {"caseworker_p95_ms": "<= 50", "supervisor_p95_ms": "<= 50", "errors": "<= 0"},
                  ratio_metric="p95_ms", higher_is_better=False)
