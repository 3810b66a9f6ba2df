"""``qunli bench scope [--scale county|city|province] --json``

Scoped reads over the demo tree (built once per scale by ``qunli.demo.cached_database``):

* ``dashboard_p95_ms`` — the subtree dashboard aggregation (``reports.queries.dashboard``)
  for a city-level grant (city and province scales; the county grant at county scale);
  target ≤ 200 ms. The county-grant figure is reported beside it.
* ``list_p95_ms`` — a scoped, sorted first list page: persons visible to a county grant,
  ordered by name (pinyin order, as the person list sorts 姓名), 50 rows; target ≤ 50 ms.
* ``list_count_p95_ms`` — the ``COUNT(*)`` the generic list view runs for its paginator over
  the same scoped queryset, reported (no target) because at province scale it, not the
  page, dominates a list request; ``list_count_capped_city_p95_ms`` shows the alternative of
  counting at most 10,001 rows ("10,000+").

Peer ``orm_loops`` (on the county subtree; ratio on ``dashboard_county_p95_ms``): the same dashboard answer computed level by level with plain ORM loops —
walk the children of each unit level by level and count each unit's rows in Python — as
code without aggregate queries would. Its answer is checked against ours.
"""

from __future__ import annotations

import time

from bench.common import latency_metrics, result

DASHBOARD_RUNS = 15
LIST_RUNS = 40
PEER_RUNS = 1  # the peer takes tens of seconds per run: one timed run, no warm-up


def _timed(fn, runs: int, warm: bool = True) -> tuple[list[float], object]:
    samples, out = [], None
    if warm:
        fn()  # warm caches (page cache, statement cache)
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        samples.append((time.perf_counter() - t) * 1000)
    return samples, out


def _grant_user(unit, role="leader"):
    """An unsaved account whose grant is ``unit``'s subtree with all lines (nothing is
    written to the cached database)."""
    from qunli.core.models import User
    from qunli.core.scoping import GrantInfo

    user = User(username=f"bench-{unit.pk}", kind=User.Kind.BUSINESS, is_active=True)
    user._qunli_grants = [GrantInfo(role, unit.pk, unit.path, True, frozenset())]
    return user


def peer_dashboard(user, root) -> dict:
    """The headline dashboard figures the slow way: one query per unit per figure."""
    from qunli.orgs.models import Position, Unit, Venue, vacant_seats
    from qunli.people.models import Membership, Person

    units, level = [], [Unit.objects.visible_to(user).get(pk=root.pk)]
    while level:
        units.extend(level)
        nxt = []
        for u in level:
            nxt.extend(Unit.objects.visible_to(user).filter(path__startswith=u.path, depth=u.depth + 1))
        level = nxt
    out = {"units": 0, "persons": 0, "members": 0, "complete": 0, "venues": 0, "passed": 0, "by_level": {}}
    for u in units:
        if u.status != "active":
            continue
        out["units"] += 1
        out["by_level"][u.level] = out["by_level"].get(u.level, 0) + 1
        out["persons"] += Person.objects.filter(unit=u, merged_into__isnull=True).count()
        out["members"] += Membership.objects.filter(unit=u, status="active").count()
        if u.line_id is not None:
            titles = set(Position.objects.filter(unit=u, ended_on__isnull=True).values_list("title", flat=True))
            out["complete"] += not vacant_seats(titles)
        for v in Venue.objects.filter(unit=u):
            out["venues"] += 1
            out["passed"] += v.latest_passed is True
    return out


def run(scale: str | None = None, stdout=None) -> dict:
    from qunli.demo import cached_database, using_database

    scale = scale or "province"
    path = cached_database(scale)
    with using_database(path):
        return _measure(scale, stdout)


def _measure(scale: str, stdout) -> dict:
    from qunli.orgs.models import Level, Unit
    from qunli.people.models import Person
    from qunli.reports import queries

    def say(msg):
        if stdout is not None:
            stdout.write(msg)

    county = Unit.objects.filter(level=Level.COUNTY, line__isnull=True, kind="geo").order_by("path").first()
    city = Unit.objects.filter(level=Level.CITY, line__isnull=True).order_by("-numchild", "path").first()
    n_units = Unit.objects.count()
    n_persons = Person.objects.count()
    county_user = _grant_user(county, "staff")
    top = city if scale != "county" else county
    top_user = _grant_user(top)
    say(f"{scale}: {n_units} units, {n_persons} persons; city grant {top.name}, county grant {county.name}")

    dash_top, _ = _timed(lambda: queries.dashboard(top_user, top), DASHBOARD_RUNS)
    dash_county, _ = _timed(lambda: queries.dashboard(county_user, county), DASHBOARD_RUNS)
    # grant-wide (no unit selected) is what the landing page shows
    dash_default, _ = _timed(lambda: queries.dashboard(top_user, None), DASHBOARD_RUNS)

    def first_page():
        return list(Person.objects.visible_to(county_user).filter(merged_into__isnull=True)
                    .select_related("unit").order_by("name_sort", "pk")[:50])

    def count_rows():
        return Person.objects.visible_to(county_user).filter(merged_into__isnull=True).count()

    def first_page_top():
        return list(Person.objects.visible_to(top_user).filter(merged_into__isnull=True)
                    .select_related("unit").order_by("name_sort", "pk")[:50])

    def count_rows_top():
        return Person.objects.visible_to(top_user).filter(merged_into__isnull=True).count()

    def count_capped_top():
        # what a list view could do instead: count at most 10,001 rows and show "10,000+"
        return Person.objects.visible_to(top_user).filter(merged_into__isnull=True)[:10_001].count()

    list_s, page = _timed(first_page, LIST_RUNS)
    capped_s, _ = _timed(count_capped_top, LIST_RUNS // 2)
    count_s, counted = _timed(count_rows, LIST_RUNS // 2)
    list_top_s, _ = _timed(first_page_top, LIST_RUNS // 2)
    count_top_s, counted_top = _timed(count_rows_top, 5)
    assert len(page) == 50

    # the peer walks the county subtree (a city takes it many minutes); the ratio compares
    # the same county subtree on both sides
    ours = queries.dashboard(county_user, county)
    say(f"peer: ORM loops over {county.name} …")
    peer_s, theirs = _timed(lambda: peer_dashboard(county_user, county), PEER_RUNS, warm=False)
    agree = (theirs["units"] == ours["units_total"] and theirs["persons"] == ours["persons_total"]
             and theirs["members"] == ours["members_total"] and theirs["complete"] == ours["teams"]["complete"]
             and theirs["venues"] == ours["venues"]["total"] and theirs["passed"] == ours["venues"]["passed"])

    metrics = {
        **latency_metrics(dash_top, "dashboard_"),
        **latency_metrics(dash_county, "dashboard_county_"),
        **latency_metrics(dash_default, "dashboard_grant_default_"),
        **latency_metrics(list_s, "list_"),
        **latency_metrics(count_s, "list_count_"),
        **latency_metrics(list_top_s, "list_city_"),
        **latency_metrics(count_top_s, "list_count_city_"),
        **latency_metrics(capped_s, "list_count_capped_city_"),
        "list_rows_county": counted,
        "list_rows_city": counted_top,
        "subtree_units": ours["units_total"],
        "subtree_persons": ours["persons_total"],
        "peer_answer_matches": agree,
        "errors": 0 if agree else 1,
    }
    peers = {"orm_loops": {**latency_metrics(peer_s, "dashboard_county_"),
                           "queries_note": "one query per unit per figure, walked level by level"}}
    return result("scope", f"{scale}: {n_units} units, {n_persons} persons", metrics, peers,
                  {"dashboard_p95_ms": "<= 200", "list_p95_ms": "<= 50", "errors": "<= 0"},
                  ratio_metric="dashboard_county_p95_ms", higher_is_better=False)
