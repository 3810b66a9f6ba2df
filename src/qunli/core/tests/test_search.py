"""The search module itself: segmentation, query parsing, highlighting (escaped), and the
index API (index / remove / search against a candidate queryset)."""

import pytest

from qunli.core import search
from qunli.records.models import Item
from qunli.records.search import KIND


def test_segment_ascii_body_and_cjk_bigrams():
    text = "关于召开党员大会的通知\nJ001-WS·2023-Y-0001"
    body = search.segment(text)
    assert "j001 ws 2023 y 0001" in body
    toks = search.grams(text).split()
    assert "党员" in toks and "通知" in toks and "员大" in toks
    assert toks[-3:] == ["的通", "通知", "知"]
    assert search.grams("妇女，女代") == "妇女 女 女代 代"  # the run's last character breaks the chain
    assert search.segment("J001发WS〔2023〕") == "j001 丨 ws 2023"


def test_parse_chars_and_words():
    q = search.parse("党员大会 J001-WS")
    assert q.phrases == [("党", "员", "大", "会"), ("j001", "ws")]
    assert search.parse("党员大会", mode="words").phrases == [("党员",), ("大会",), ("党员大会",)]
    assert not search.parse("，。！")
    assert search._fts5_expr(q) == 'grams : "党员 员大 大会" AND body : "j001 ws"'
    assert search._tsquery_expr(search.parse("党员")) == "('党员':A)"
    assert search._fts5_expr(search.parse("党")) == 'grams : "党"*'
    assert search._tsquery_expr(search.parse("党员大 x1")) == "('党员':A <-> '员大':A) & ('x1')"


def test_highlight_escapes_everything_but_marks():
    out = str(search.highlight('<b onclick="x">档案</b> & 档案馆', ["档案"]))
    assert out == '&lt;b onclick=&quot;x&quot;&gt;<mark>档案</mark>&lt;/b&gt; &amp; <mark>档案</mark>馆'
    long = "前" * 200 + "档案" + "后" * 200
    cut = str(search.highlight(long, ["档案"], width=20))
    assert cut.startswith("…") and cut.endswith("…") and "<mark>档案</mark>" in cut and len(cut) < 80


@pytest.mark.django_db
def test_index_remove_search():
    # ids need no Item rows for the index itself; the candidate queryset decides what is returned
    search.index(KIND, 1, "关于召开党员大会的通知")
    search.index_many(KIND, [(2, "党员教育管理工作总结"), (3, "乡村振兴")])
    qs = Item.objects.none()
    assert search.search(KIND, "党员", qs) == []
    from django.db import connection

    col = "id" if connection.vendor == "postgresql" else "rowid"
    with connection.cursor() as cur:
        cur.execute(f"SELECT {col} FROM search_records_item ORDER BY 1")
        assert [r[0] for r in cur.fetchall()] == [1, 2, 3]
    search.index(KIND, 1, "改过的题名")
    search.remove(KIND, 3)
    with connection.cursor() as cur:
        cur.execute(f"SELECT {col}, raw FROM search_records_item ORDER BY 1")
        assert cur.fetchall() == [(1, "改过的题名"), (2, "党员教育管理工作总结")]
    assert search.snippets_for(KIND, "党员", [2]) == {2: "<mark>党员</mark>教育管理工作总结"}
