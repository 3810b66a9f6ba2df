"""Full-text search of the archives catalogue: Chinese 2- and 4-character queries, scoping,
filters, the outbox (index updates after commit, repaired after a crash), drift and reindex,
and the list page with highlighted snippets."""

import datetime as dt
import re
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from qunli.core import search
from qunli.records import actions
from qunli.records.models import Fonds, Item
from qunli.records.search import KIND

TITLES = [
    "关于召开全县妇女代表大会的通知",
    "关于表彰三八红旗手的决定",
    "示范县妇联2023年度工作总结",
    "关于开展乡村振兴巾帼行动的实施方案",
]


@pytest.fixture
def items(capture, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        made = [capture(title=t, date=dt.date(2021 + i % 3, 3, 1)) for i, t in enumerate(TITLES)]
    return made


def found(user, q, **filters):
    qs = Item.objects.visible_to(user).filter(**filters)
    return [h.pk for h in search.search(KIND, q, qs)]


def test_capture_is_indexed_after_commit(items, accounts):
    assert search.pending() == 0
    assert set(found(accounts["women_staff"], "通知")) == {items[0].pk}


@pytest.mark.parametrize("q,idx", [
    ("妇女", {0}), ("代表", {0}), ("女代", {0}), ("红旗", {1}), ("振兴", {3}), ("巾帼", {3}), ("年度", {2}),
    ("妇女代表", {0}), ("三八红旗", {1}), ("乡村振兴", {3}), ("巾帼行动", {3}), ("工作总结", {2}),
    ("关于", {0, 1, 3}), ("妇联", {0, 1, 2, 3}),  # 责任者 示范县妇联 is indexed too
])
def test_chinese_two_and_four_character_queries(items, accounts, q, idx):
    assert set(found(accounts["women_staff"], q)) == {items[i].pk for i in idx}


def test_doc_no_and_archival_code(items, accounts, django_capture_on_commit_callbacks):
    staff = accounts["women_staff"]
    assert found(staff, "县妇发〔2023〕2号") == [items[1].pk]
    with django_capture_on_commit_callbacks(execute=True):
        actions.file_items(staff, [i.pk for i in items])
    code = Item.objects.get(pk=items[2].pk).archival_code
    assert found(staff, code) == [items[2].pk]
    assert set(found(staff, "J001-WS")) == {i.pk for i in items}


def test_multiple_words_and_misses(items, accounts):
    staff = accounts["women_staff"]
    assert found(staff, "关于 通知") == [items[0].pk]
    assert found(staff, "党建") == []
    assert found(staff, "  ") == []
    assert found(staff, "“”（）") == []


def test_scoping(items, accounts, tree, django_capture_on_commit_callbacks):
    from conftest import grant, make_user

    # 邻县's fonds and item, captured by an account of 邻县
    neighbour = make_user("linxian")
    grant(neighbour, "staff", tree["other_county"], all_lines=True)
    f2 = actions.create_fonds(neighbour, unit=tree["other_women"], code="J200", name="邻县妇联")
    with django_capture_on_commit_callbacks(execute=True):
        foreign = actions.capture_record(neighbour, unit=tree["other_women"], title="关于召开全县妇女代表大会的通知",
                                         responsible="邻县妇联", date=dt.date(2023, 1, 1))
    assert foreign.fonds == f2
    assert foreign.pk in found(neighbour, "妇女代表") and items[0].pk not in found(neighbour, "妇女代表")
    for who in ("women_staff", "party_office", "leader"):
        hits = found(accounts[who], "妇女代表")
        assert foreign.pk not in hits and items[0].pk in hits
    assert found(accounts["clerk"], "妇女代表") == []  # a village clerk: own unit only
    assert found(accounts["auditor"], "妇女代表") == []  # no grants at all
    nobody = make_user("nobody")
    assert found(nobody, "妇联") == []


def test_filters_in_sql(items, accounts):
    staff = accounts["women_staff"]
    assert set(found(staff, "关于", year=2021)) == {items[0].pk, items[3].pk}
    assert found(staff, "关于", year=2022) == [items[1].pk]
    assert found(staff, "关于", fonds=Fonds.objects.get(code="J001"), retention="D10") == []
    Item.objects.filter(pk=items[3].pk).update(openness="open", classification="public")
    assert found(staff, "关于", openness="open") == [items[3].pk]
    assert found(staff, "关于", classification="public", category__code="WS") == [items[3].pk]


def test_ranking_limit_and_snippets(items, accounts, capture, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        evil = capture(title="<script>alert(1)</script>妇女代表妇女代表")
    hits = search.search(KIND, "妇女代表", Item.objects.visible_to(accounts["women_staff"]), limit=1)
    assert len(hits) == 1
    hits = search.search(KIND, "妇女代表", Item.objects.visible_to(accounts["women_staff"]))
    snip = {h.pk: str(h.snippet) for h in hits}
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<mark>妇女代表</mark><mark>妇女代表</mark>" in snip[evil.pk]
    assert "<script>" not in snip[evil.pk]
    assert "召开全县<mark>妇女代表</mark>大会" in snip[items[0].pk]


def test_update_and_renumber_reindex(items, accounts, django_capture_on_commit_callbacks):
    staff = accounts["women_staff"]
    with django_capture_on_commit_callbacks(execute=True):
        actions.update_item(staff, Item.objects.get(pk=items[1].pk), title="关于表彰优秀妇女干部的决定")
    assert found(staff, "红旗") == []
    assert found(staff, "妇女干部") == [items[1].pk]
    with django_capture_on_commit_callbacks(execute=True):
        actions.file_items(staff, [items[0].pk, items[3].pk])
    a = Item.objects.get(pk=items[0].pk)
    assert a.year == items[3].year == 2021
    first, second = sorted([a, Item.objects.get(pk=items[3].pk)], key=lambda i: i.piece_no)
    with django_capture_on_commit_callbacks(execute=True):
        actions.renumber_item(staff, first, piece_no=2, reason="顺序有误")
    first.refresh_from_db()
    assert found(staff, first.archival_code) == [first.pk]
    assert search.check(KIND).stale == []


def test_outbox_survives_failure_between_commit_and_indexing(capture, accounts, monkeypatch,
                                                            django_capture_on_commit_callbacks):
    """The commit happened, the drain crashed: the outbox row stays, the next drain indexes it."""
    def crash(*a, **k):
        raise RuntimeError("机器断电")

    monkeypatch.setattr(search, "_sync", crash)
    with django_capture_on_commit_callbacks(execute=True):  # robust: the action's caller is unaffected
        item = capture(title="关于防汛抗旱工作的紧急通知")
    assert Item.objects.filter(pk=item.pk).exists()
    assert search.pending() == 2  # one row per index: full text and the public catalogue
    assert found(accounts["women_staff"], "防汛") == []
    assert search.check(KIND).missing == [item.pk]
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):  # any later write drains the backlog
        other = capture(title="关于秋季征兵的通知")
    assert search.pending() == 0
    assert found(accounts["women_staff"], "防汛") == [item.pk]
    assert found(accounts["women_staff"], "征兵") == [other.pk]
    assert not search.check(KIND)


def test_rolled_back_action_leaves_no_outbox_row(capture, accounts):
    from qunli.core.actions import ActionError

    with pytest.raises(ActionError):
        capture(title="坏文件", files=[("a.exe", b"MZ")])
    assert search.pending() == 0


def _rowcol():
    return "id" if connection.vendor == "postgresql" else "rowid"


def test_drift_check_and_reindex(items, capture):
    assert not search.check(KIND)
    out = StringIO()
    call_command("reindex", "--check", stdout=out)
    assert "一致" in out.getvalue()
    with connection.cursor() as cur:  # a deleted index row
        cur.execute(f"DELETE FROM search_records_item WHERE {_rowcol()} = %s", [items[0].pk])
    Item.objects.filter(pk=items[1].pk).update(title="绕过动作修改的题名")  # an edit that bypassed the outbox
    with connection.cursor() as cur:  # an orphan: an index row whose item is gone
        cur.execute(f"INSERT INTO search_records_item ({_rowcol()}, body, raw, digest) VALUES (%s, %s, %s, %s)",
                    [999999, "幽 灵", "幽灵", "x"])
    drift = search.check(KIND)
    assert drift.missing == [items[0].pk] and drift.stale == [items[1].pk] and drift.orphans == [999999]
    out = StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("reindex", "--check", stdout=out, stderr=StringIO())
    assert exc.value.code == 1
    assert "缺失 1，多余 1，过期 1" in out.getvalue()
    call_command("reindex", stdout=StringIO())
    assert not search.check(KIND)
    staff_visible = Item.objects.all()
    assert [h.pk for h in search.search(KIND, "绕过", staff_visible)] == [items[1].pk]
    assert [h.pk for h in search.search(KIND, "幽灵", staff_visible)] == []
    assert items[0].pk in [h.pk for h in search.search(KIND, "妇女", staff_visible)]


def test_warm_reads_the_index_text_and_items_and_search_still_answers(items, accounts):
    out = StringIO()
    call_command("reindex", "--warm", stdout=out)
    [line] = [ln for ln in out.getvalue().splitlines() if ln.startswith("records.item:")]  # and records.catalogue
    assert line.startswith("records.item: 已读入内存") and "records_item" in line
    read = dict(search.warm(KIND))
    index, text = (("search_records_item_tsv", "search_records_item") if connection.vendor == "postgresql" else
                   ("search_records_item_data", "search_records_item_content"))
    assert read[index] > 0 and read[text] > 0 and read["records_item"] > 0
    assert items[0].pk in [h.pk for h in search.search(KIND, "妇女", Item.objects.all())]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_prewarm is a PostgreSQL extension")
def test_warm_without_the_right_to_create_pg_prewarm_says_what_to_do_in_chinese(items):
    role = f"qunli_warm_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cur:
        cur.execute("DROP EXTENSION IF EXISTS pg_prewarm")
        cur.execute(f"CREATE ROLE {role} NOLOGIN")
        cur.execute(f"SET ROLE {role}")
    try:
        out, err = StringIO(), StringIO()
        with pytest.raises(CommandError, match="CREATE EXTENSION pg_prewarm"):
            call_command("reindex", "--warm", stdout=out, stderr=err)
    finally:
        with connection.cursor() as cur:
            cur.execute("RESET ROLE")
    assert out.getvalue() == ""


def test_list_page_search(items, accounts, client_for):
    c = client_for(accounts["women_staff"])
    url = reverse("records:item_list")
    r = c.get(url, {"q": "妇女代表"})
    assert r.status_code == 200
    body = r.content.decode()
    assert "<mark>妇女代表</mark>" in body and TITLES[1] not in body
    # the match itself opens the item, filed or not (a pending item has no 档号 to click)
    assert re.search(f'<a href="{items[0].get_absolute_url()}">[^<]*<mark>妇女代表</mark>', body)
    r = c.get(url, {"q": "关于", "year": 2022})
    body = r.content.decode()
    assert TITLES[1] in body and TITLES[0] not in body
    assert 'value="关于"' in body
    r = c.get(url, {"q": "关于", "export": "xlsx"})
    assert r.status_code == 200
    r = c.get(url, {"q": "关于", "sort": "-date"})
    assert r.status_code == 200 and TITLES[3] in r.content.decode()
    r = client_for(accounts["clerk"]).get(url, {"q": "妇女代表"})
    assert TITLES[0] not in r.content.decode()
    c = client_for(accounts["women_staff"])
    r = c.get(reverse("records:pending_list"), {"q": "巾帼"})
    assert TITLES[3] in r.content.decode() and TITLES[0] not in r.content.decode()



@pytest.mark.parametrize("small", [0, 5000])
def test_both_plans_agree_and_match_substrings_exactly(items, accounts, capture, monkeypatch, small,
                                                        django_capture_on_commit_callbacks):
    """Few candidates: checked row by row (instr); many: the FTS bigram match walked newest
    first. Same hits, newest first; 1-character queries; no match across two CJK runs."""
    with django_capture_on_commit_callbacks(execute=True):
        split = capture(title="妇女，代表大会")  # 妇女 and 代表 in separate runs
    monkeypatch.setattr(search, "SMALL", small)
    staff = accounts["women_staff"]
    assert found(staff, "妇女代表") == [items[0].pk]
    assert found(staff, "女代") == [items[0].pk]
    assert found(staff, "代表") == [split.pk, items[0].pk]
    assert found(staff, "帼") == [items[3].pk]
    assert found(staff, "县妇发〔2023〕2号") == [items[1].pk]
    assert found(staff, "妇女 大会") == [split.pk, items[0].pk]
    assert found(accounts["clerk"], "代表") == []
    hits = search.search(KIND, "关于", Item.objects.visible_to(staff), limit=2, offset=1, snippets=False)
    assert [h.pk for h in hits] == [items[1].pk, items[0].pk]


def test_candidate_filters_become_facet_lexemes_only_when_constant(items, accounts):
    """The facet part of a PostgreSQL match repeats the candidates' own equality filters on
    facet fields; anything else (other fields, OR, subqueries, joined tables) is left to
    ``id IN (candidates)``."""
    ix = search.get_index(KIND)
    staff = accounts["women_staff"]
    fonds = Fonds.objects.get(code="J001")
    qs = Item.objects.visible_to(staff).filter(fonds=fonds, year="2021", retention="D30", title="x")
    assert search._facet_tsquery(ix, qs) == (f"('fonds_id={fonds.pk}') & ('retention=D30') & ('year=2021')")
    assert search._facet_tsquery(ix, Item.objects.filter(year__in=[2022, 2021])) == "('year=2021' | 'year=2022')"
    from django.db.models import Q

    assert search._facet_tsquery(ix, Item.objects.filter(Q(year=2021) | Q(year=2022))) == ""
    assert search._facet_tsquery(ix, Item.objects.filter(fonds__in=Fonds.objects.visible_to(staff))) == ""
    assert search._facet_tsquery(ix, Item.objects.exclude(year=2021)) == ""
    assert search._facet_tsquery(ix, Item.objects.filter(category__code="WS")) == ""


def test_filtered_search_follows_a_year_change(items, accounts, django_capture_on_commit_callbacks):
    """A corrected date moves the item to another 年度: the facet lexemes move with it, so the
    year filter finds it under the new year only."""
    staff = accounts["women_staff"]
    assert found(staff, "三八红旗", year=2022) == [items[1].pk]
    with django_capture_on_commit_callbacks(execute=True):
        actions.update_item(staff, Item.objects.get(pk=items[1].pk), date=dt.date(2019, 5, 4))
    assert found(staff, "三八红旗", year=2022) == []
    assert found(staff, "三八红旗", year=2019) == [items[1].pk]
    assert found(staff, "三八红旗", year__in=[2019, 2020]) == [items[1].pk]
    assert not search.check(KIND)


def test_a_facet_changed_behind_the_outbox_is_reported_as_drift(items):
    Item.objects.filter(pk=items[2].pk).update(year=1999)  # bypassed the actions
    assert search.check(KIND).stale == [items[2].pk]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the facet lexemes live in the PostgreSQL tsvector")
def test_postgresql_tsvector_carries_the_facets(items):
    with connection.cursor() as cur:
        cur.execute("SELECT tsv::text FROM search_records_item WHERE id = %s", [items[0].pk])
        tsv = cur.fetchone()[0]
    it = items[0]
    assert f"'year={it.year}'" in tsv and f"'fonds_id={it.fonds_id}'" in tsv and "'通知':" in tsv
