"""Chinese full-text search, one module for every index (DESIGN.md mechanism 4).

Text is tokenized here, in Python, and stored as space-separated tokens in two columns, so
the database only splits on spaces:

* ``grams`` — each CJK run as its overlapping character bigrams, then its last character
  (``党员大会`` → ``党员 员大 大会 会``);
* ``body`` — the ASCII letter/digit runs lowercased (``J001-WS·2023`` → ``j001 ws 2023``), with
  a ``丨`` where a CJK run separates two of them.

A query's CJK run of 2+ characters is the *phrase of its bigrams* (``妇女代表`` →
``"妇女 女代 代表"``; a 2-character query is one token lookup); one character is the prefix
``党*`` (the bigrams starting with it, or a run's last character). Both are exactly "a substring
of the text": bigrams of one run are adjacent, and the run's closing unigram breaks any chain
into the next run. ASCII runs are a phrase of words in ``body``. (jieba words are not indexed:
they find ``大会`` in ``党员大会`` but not ``员大`` — ``bench/records_search.py`` measures that
recall — and without bm25 they add nothing.)

Back ends, chosen by the connection: SQLite — one FTS5 table per kind (``search_<app>_<model>``,
rowid = object id, columns body / grams / raw UNINDEXED / digest UNINDEXED, ``columnsize=0``);
PostgreSQL — one side table per kind (id primary key, body, grams, raw, digest, and a
``tsvector`` written with each row: grams with weight A, body unweighted, ``simple`` config,
plus the kind's *facet lexemes* such as ``year=2010``; GIN-indexed).

Hits come newest first (``ORDER BY id DESC``), not by bm25: scoring every match of a common
bigram before scoping cut it down was most of the cost, and titles of 8–40 characters give
bm25 little to work with. Results pass scoping in SQL: ``search`` takes the caller's candidate
queryset (``visible_to`` plus filters). On SQLite it first counts the candidates (up to
``SMALL``): few — each candidate's stored text is checked (``instr``, the same semantics as the
match), no FTS at all; many — the FTS match is walked newest first and each row checked against
the candidates (a correlated ``EXISTS`` on the primary key), stopping at the page. PostgreSQL
leaves the choice to its planner (``id IN (candidates)``), and where the candidates are filtered
by equality on a facet field (全宗, 年度 …) the same filter is added as facet lexemes, so the GIN
scan intersects the text match with the filter before any row is fetched (1,000,000 items:
p95 from ~55 to ~24 ms on this machine).

Index updates go through an outbox: writers call ``enqueue`` inside their transaction (a row
per object in ``search_outbox``) and the same call registers ``drain`` to run after the
commit. A crash between commit and indexing leaves the rows, which the next drain (any later
write, or ``qunli reindex``) picks up. ``check`` reports drift (ids missing on either side,
stale digests); ``rebuild`` rewrites an index from the database.
"""

import hashlib
import html
import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import rjieba
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, connection, transaction
from django.db.models.expressions import RawSQL
from django.utils.safestring import SafeString, mark_safe

OUTBOX = "search_outbox"
BATCH = 2000
SMALL = 5000  # candidate sets up to this size are checked row by row instead of via the FTS match
GAP = "丨"  # in ``body``: a CJK run between two ASCII runs (no query produces it)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_PIECE = re.compile(f"[{_CJK}]+|[0-9A-Za-z]+")
_CJK_RUN = re.compile(f"^[{_CJK}]+$")


# --- segmentation --------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    """jieba's search-mode words of each CJK run; ASCII letter/digit runs as they come."""
    out = []
    for piece in _PIECE.findall(text):
        if _CJK_RUN.match(piece):
            out.extend(rjieba.cut_for_search(piece))
        else:
            out.append(piece.lower())
    return out


def segment(text: str) -> str:
    """The ``body`` column: ASCII runs lowercased, ``丨`` for a CJK run between two of them."""
    out, gap = [], False
    for piece in _PIECE.findall(text or ""):
        if _CJK_RUN.match(piece):
            gap = bool(out)
        else:
            if gap:
                out.append(GAP)
                gap = False
            out.append(piece.lower())
    return " ".join(out)


def grams(text: str) -> str:
    """The ``grams`` column: each CJK run's overlapping bigrams, then its last character."""
    out = []
    for run in re.findall(f"[{_CJK}]+", text or ""):
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
        out.append(run[-1])
    return " ".join(out)


def index_row(pk: int, text: str, facets: dict | None = None) -> tuple:
    """(pk, body, grams, raw, digest) — one row of an index table."""
    text = text or ""
    return int(pk), segment(text), grams(text), text, digest(text, facets)


def facet_lexemes(facets: dict | None) -> list[str]:
    """``{"year": 2010}`` → ``["year=2010"]``: lexemes no query can produce (a query's tokens
    are letters, digits or CJK), so only the facet filter matches them."""
    return [f"{k}={v}" for k, v in sorted((facets or {}).items()) if v is not None and v != ""]


def _quote_lexeme(x: str) -> str:
    return "'" + x.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass
class Query:
    """A parsed query: phrases, all of which must match (AND). A phrase is a tuple of tokens
    that must be adjacent (CJK: characters; ASCII: lowercased words)."""

    phrases: list[tuple[str, ...]]
    terms: list[str]  # the raw pieces, for highlighting

    def __bool__(self):
        return bool(self.phrases)


def parse(query: str, mode: str = "chars") -> Query:
    """``mode="chars"`` (the default, what ``search`` runs) keeps CJK runs as character
    phrases; ``"words"`` gives their jieba words (AND) — only for the bench, which measures
    what a words-only index would miss."""
    phrases, terms = [], []
    for part in (query or "").split():
        ascii_run = []
        for piece in _PIECE.findall(part):
            terms.append(piece)
            if _CJK_RUN.match(piece):
                if ascii_run:
                    phrases.append(tuple(ascii_run))
                    ascii_run = []
                if mode == "words" and len(piece) > 1:
                    phrases.extend((w,) for w in dict.fromkeys(_words(piece)) if w)
                else:
                    phrases.append(tuple(piece))
            else:
                ascii_run.append(piece.lower())
        if ascii_run:
            phrases.append(tuple(ascii_run))
    return Query(phrases=phrases, terms=terms)


def _is_cjk(phrase: tuple[str, ...]) -> bool:
    return bool(_CJK_RUN.match(phrase[0]))


def _bigrams(phrase: tuple[str, ...]) -> list[str]:
    return [phrase[i] + phrase[i + 1] for i in range(len(phrase) - 1)]


def _fts5_expr(q: Query) -> str:
    parts = []
    for p in q.phrases:
        if not _is_cjk(p):
            parts.append('body : "' + " ".join(p) + '"')
        elif len(p) == 1:
            parts.append(f'grams : "{p[0]}"*')
        else:
            parts.append('grams : "' + " ".join(_bigrams(p)) + '"')
    return " AND ".join(parts)


def _tsquery_expr(q: Query) -> str:
    parts = []
    for p in q.phrases:
        if not _is_cjk(p):
            parts.append("(" + " <-> ".join(f"'{t}'" for t in p) + ")")
        elif len(p) == 1:
            parts.append(f"'{p[0]}':*A")
        else:
            parts.append("(" + " <-> ".join(f"'{t}':A" for t in _bigrams(p)) + ")")
    return " & ".join(parts)


def _check_sql(q: Query) -> tuple[str, list[str]]:
    """The match as plain conditions on one row's stored columns (SQLite), for few candidates:
    a CJK phrase is a substring of ``raw``, an ASCII phrase a run of words of ``body``."""
    conds, params = [], []
    for p in q.phrases:
        if _is_cjk(p):
            conds.append("instr(raw, %s) > 0")
            params.append("".join(p))
        else:
            conds.append("instr(' ' || body || ' ', %s) > 0")
            params.append(" " + " ".join(p) + " ")
    return " AND ".join(conds), params


# --- index registry ------------------------------------------------------------------------

@dataclass
class SearchIndex:
    """One kind of searchable object. ``document(obj)`` is its text; ``queryset()`` the rows
    to (re)index, loading what ``document`` reads."""

    kind: str  # "records.item"
    model: type
    document: Callable
    queryset: Callable
    table: str = ""
    # Fields (attnames) whose values go into the PostgreSQL tsvector as facet lexemes: a
    # search whose candidates are filtered on them (``year=2010``) intersects those lexemes
    # inside the GIN index instead of fetching every text match. Only fields that change
    # through actions which re-enqueue the object belong here.
    facets: tuple[str, ...] = ()

    def __post_init__(self):
        self.table = self.table or "search_" + self.kind.replace(".", "_")


_REGISTRY: dict[str, SearchIndex] = {}


def register(ix: SearchIndex) -> SearchIndex:
    _REGISTRY[ix.kind] = ix
    return ix


def get_index(kind: str) -> SearchIndex:
    if kind not in _REGISTRY:  # each app defines its indexes in <app>/search.py
        importlib.import_module(f"qunli.{kind.split('.')[0]}.search")
    return _REGISTRY[kind]


def kinds() -> list[str]:
    for app in ("records",):
        importlib.import_module(f"qunli.{app}.search")
    return sorted(_REGISTRY)


def digest(text: str, facets: dict | None = None) -> str:
    """The stored fingerprint of what was indexed: the text, and the facet values with it (so
    ``check`` sees an object whose year moved as stale)."""
    lexemes = facet_lexemes(facets)
    payload = (text or "") + ("\x1f" + " ".join(lexemes) if lexemes else "")
    return hashlib.sha256(payload.encode()).hexdigest()


def facet_values(ix: "SearchIndex", obj) -> dict:
    return {name: getattr(obj, name) for name in ix.facets}


# --- DDL (used by migrations) --------------------------------------------------------------

def create_table_sql(table: str, vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5(body, grams, raw UNINDEXED, "
                f"digest UNINDEXED, tokenize='unicode61 remove_diacritics 0', columnsize=0)"]
    if vendor == "postgresql":
        # tsv is written by index_many (grams weighted A, body, the facet lexemes)
        return [f"CREATE TABLE IF NOT EXISTS {table} (id bigint PRIMARY KEY, body text NOT NULL, "
                f"grams text NOT NULL DEFAULT '', raw text NOT NULL, digest varchar(64) NOT NULL, "
                f"tsv tsvector NOT NULL DEFAULT ''::tsvector)",
                f"CREATE INDEX IF NOT EXISTS {table}_tsv ON {table} USING gin (tsv)"]
    return []


def outbox_sql(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [f"CREATE TABLE IF NOT EXISTS {OUTBOX} (id integer PRIMARY KEY AUTOINCREMENT, kind varchar(40) NOT NULL, "
                f"object_id bigint NOT NULL)"]
    return [f"CREATE TABLE IF NOT EXISTS {OUTBOX} (id bigserial PRIMARY KEY, kind varchar(40) NOT NULL, "
            f"object_id bigint NOT NULL)"]


# --- writes --------------------------------------------------------------------------------

def index_many(kind: str, docs: Iterable[tuple]) -> int:
    """Upsert (pk, raw text) or (pk, raw text, facet values) tuples into the kind's index."""
    table = get_index(kind).table
    docs = [(d[0], d[1], d[2] if len(d) > 2 else None) for d in docs]
    rows = [index_row(pk, text, facets) for pk, text, facets in docs]
    if not rows:
        return 0
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.executemany(
                f"INSERT INTO {table} (id, body, grams, raw, digest, tsv) VALUES (%s, %s, %s, %s, %s, "
                f"setweight(to_tsvector('simple', %s), 'A') || to_tsvector('simple', %s) || array_to_tsvector(%s::text[])) "
                f"ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, grams = EXCLUDED.grams, "
                f"raw = EXCLUDED.raw, digest = EXCLUDED.digest, tsv = EXCLUDED.tsv",
                [(*r, r[2], r[1], facet_lexemes(d[2])) for r, d in zip(rows, docs, strict=True)])
        else:
            cur.executemany(f"DELETE FROM {table} WHERE rowid = %s", [(r[0],) for r in rows])
            cur.executemany(f"INSERT INTO {table} (rowid, body, grams, raw, digest) VALUES (%s, %s, %s, %s, %s)",
                            rows)
    return len(rows)


def index(kind: str, pk: int, text: str) -> None:
    index_many(kind, [(pk, text)])


def remove(kind: str, pk) -> None:
    remove_many(kind, [pk])


def remove_many(kind: str, pks: Iterable[int]) -> None:
    table = get_index(kind).table
    col = "id" if connection.vendor == "postgresql" else "rowid"
    with connection.cursor() as cur:
        cur.executemany(f"DELETE FROM {table} WHERE {col} = %s", [(int(p),) for p in pks])


def enqueue(kind: str, pks: Iterable[int]) -> None:
    """Record, in the caller's transaction, that these objects need (re)indexing; drain after
    the commit. Call it from the action that writes them."""
    rows = [(kind, int(p)) for p in pks]
    if not rows:
        return
    with connection.cursor() as cur:
        cur.executemany(f"INSERT INTO {OUTBOX} (kind, object_id) VALUES (%s, %s)", rows)
    if getattr(settings, "QUNLI_SEARCH_DRAIN", "on_commit") == "on_commit":
        # Each write drains about its own share (oldest rows first, so a backlog left by a
        # crash is worked off too); concurrent writers never all drain everybody's rows.
        def drain_own_share():
            drain(limit=len(rows))

        transaction.on_commit(drain_own_share, robust=True)


def drain(limit: int | None = None) -> int:
    """Index what the outbox names, in batches; each batch claims its rows (``SKIP LOCKED`` on
    PostgreSQL; SQLite serializes writers), writes the index and deletes the rows in one
    transaction. Returns how many outbox rows were handled."""
    done = 0
    while limit is None or done < limit:
        with transaction.atomic():
            lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
            with connection.cursor() as cur:
                cur.execute(f"SELECT id, kind, object_id FROM {OUTBOX} ORDER BY id LIMIT %s{lock}", [BATCH])
                rows = cur.fetchall()
            if not rows:
                break
            by_kind: dict[str, set[int]] = {}
            for _, kind, pk in rows:
                by_kind.setdefault(kind, set()).add(pk)
            for kind, pks in by_kind.items():
                _sync(kind, pks)
            with connection.cursor() as cur:
                cur.executemany(f"DELETE FROM {OUTBOX} WHERE id = %s", [(r[0],) for r in rows])
            done += len(rows)
    return done


def _sync(kind: str, pks: set[int]) -> None:
    """Bring these ids of the index in line with the database (indexed, or removed if gone)."""
    ix = get_index(kind)
    present = {}
    ordered = sorted(pks)
    for i in range(0, len(ordered), 900):
        for obj in ix.queryset().filter(pk__in=ordered[i:i + 900]):
            present[obj.pk] = (ix.document(obj), facet_values(ix, obj))
    index_many(kind, [(pk, text, facets) for pk, (text, facets) in present.items()])
    gone = pks - present.keys()
    if gone:
        remove_many(kind, gone)


def pending() -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {OUTBOX}")
        return cur.fetchone()[0]


def rebuild(kind: str, chunk: int = 5000) -> int:
    """Rewrite the whole index of a kind from the database; clears its outbox rows."""
    ix = get_index(kind)
    n = 0
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {ix.table}")
            cur.execute(f"DELETE FROM {OUTBOX} WHERE kind = %s", [kind])
        batch = []
        for obj in ix.queryset().order_by("pk").iterator(chunk_size=chunk):
            batch.append((obj.pk, ix.document(obj), facet_values(ix, obj)))
            if len(batch) >= chunk:
                n += index_many(kind, batch)
                batch = []
        n += index_many(kind, batch)
    return n


class WarmError(Exception):
    pass


def warm(kind: str) -> list[tuple[str, int]]:
    """Read a kind's index, its text and the table its searches are scoped on into memory,
    as ``(relation, bytes read)`` (on SQLite: bytes of the values read). After the database server
    restarts, the first searches wait on the disk for every page (PostgreSQL, 1,000,000
    items, caches dropped: p95 36 ms, against 17 ms once these are read, which takes about
    2 s). PostgreSQL reads through its ``pg_prewarm`` extension: the GIN index into shared
    buffers, the tables into the operating system's cache. SQLite scans the FTS5 shadow
    tables and the model's table, every column, so the file's pages land in that cache."""
    ix = get_index(kind)
    model_table = ix.model._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            _ensure_prewarm(cur)
            cur.execute("SELECT current_setting('block_size')::int")
            block = cur.fetchone()[0]
            out = []
            for rel, mode in ((f"{ix.table}_tsv", "buffer"), (ix.table, "read"), (model_table, "read")):
                cur.execute("SELECT pg_prewarm(%s::regclass, %s)", [rel, mode])
                out.append((rel, cur.fetchone()[0] * block))
            return out
        scans = {f"{ix.table}_data": ["block"], f"{ix.table}_content": ["c0", "c1", "c2", "c3"],
                 model_table: [f.column for f in ix.model._meta.concrete_fields]}
        out = []
        for rel, columns in scans.items():  # every value's length: each page, overflow pages too
            sums = ", ".join(f'SUM(LENGTH(CAST("{c}" AS BLOB)))' for c in columns)
            cur.execute(f'SELECT {sums} FROM "{rel}"' + (" NOT INDEXED" if rel == model_table else ""))
            out.append((rel, sum(v or 0 for v in cur.fetchone())))
    return out


def _ensure_prewarm(cur) -> None:
    cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_prewarm'")
    if cur.fetchone():
        return
    try:
        with transaction.atomic():
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    except DatabaseError:
        raise WarmError("预热需要 PostgreSQL 的 pg_prewarm 扩展：请数据库管理员在本库执行 "
                        "CREATE EXTENSION pg_prewarm;（Debian 的 postgresql 软件包已自带）") from None


@dataclass
class Drift:
    kind: str
    missing: list[int] = field(default_factory=list)  # in the database, not in the index
    orphans: list[int] = field(default_factory=list)  # in the index, not in the database
    stale: list[int] = field(default_factory=list)  # indexed text differs from the database's
    pending: int = 0  # outbox rows not yet drained

    def __bool__(self):
        return bool(self.missing or self.orphans or self.stale)


def check(kind: str, chunk: int = 5000) -> Drift:
    """Compare the index with the database: every id on both sides, and each text digest."""
    ix = get_index(kind)
    col = "id" if connection.vendor == "postgresql" else "rowid"
    with connection.cursor() as cur:
        cur.execute(f"SELECT {col}, digest FROM {ix.table}")
        indexed = dict(cur.fetchall())
        cur.execute(f"SELECT COUNT(*) FROM {OUTBOX} WHERE kind = %s", [kind])
        waiting = cur.fetchone()[0]
    drift = Drift(kind, pending=waiting)
    seen = set()
    for obj in ix.queryset().order_by("pk").iterator(chunk_size=chunk):
        seen.add(obj.pk)
        d = indexed.get(obj.pk)
        if d is None:
            drift.missing.append(obj.pk)
        elif d != digest(ix.document(obj), facet_values(ix, obj)):
            drift.stale.append(obj.pk)
    drift.orphans = sorted(set(indexed) - seen)
    return drift


# --- reads ---------------------------------------------------------------------------------

@dataclass
class Hit:
    pk: int
    score: float  # 0.0: hits are ordered newest first, not scored
    snippet: SafeString | None = None


def search(kind: str, query: str, candidate_qs, *, limit: int = 50, offset: int = 0,
           snippets: bool = True) -> list[Hit]:
    """Ids of ``candidate_qs`` (already scoped and filtered by the caller) matching ``query``,
    newest first (see the module docstring for the plan). With ``snippets`` each hit carries
    the matching text, HTML-escaped, the matches in ``<mark>``."""
    q = parse(query)
    if not q:
        return []
    ix = get_index(kind)
    t = ix.table
    base = candidate_qs.order_by().values("pk")
    try:
        sub_sql, sub_params = base.query.sql_with_params()
    except EmptyResultSet:  # e.g. visible_to() of an account without grants
        return []
    if connection.vendor == "postgresql":
        facets = _facet_tsquery(ix, candidate_qs)
        # two scan keys of one GIN scan, not one combined tsquery: GIN then skips along the
        # rarest key's postings (a common bigram AND'ed inside one query was 6× slower)
        facet_sql = " AND s.tsv @@ %s::tsquery" if facets else ""
        sql = (f"SELECT s.id FROM {t} s WHERE s.tsv @@ to_tsquery('simple', %s){facet_sql} AND s.id IN ({sub_sql}) "
               f"ORDER BY s.id DESC LIMIT %s OFFSET %s")
        params = [_tsquery_expr(q), *([facets] if facets else []), *sub_params, limit, offset]
    else:
        with connection.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM ({sub_sql} LIMIT {SMALL + 1})", sub_params)
            few = cur.fetchone()[0] <= SMALL
        if few:  # check each candidate's stored text: no FTS, cost bound by SMALL
            cond, cond_params = _check_sql(q)
            sql = (f"SELECT rowid FROM {t} WHERE rowid IN ({sub_sql}) AND {cond} "
                   f"ORDER BY rowid DESC LIMIT %s OFFSET %s")
            params = [*sub_params, *cond_params, limit, offset]
        else:  # walk the matches newest first, keep the candidates, stop at the page
            try:
                ex_sql, ex_params = (base.filter(pk=RawSQL(f"{t}.rowid", ())).values("pk")
                                     .query.sql_with_params())
            except EmptyResultSet:
                return []
            sql = (f"SELECT rowid FROM {t} WHERE {t} MATCH %s AND EXISTS ({ex_sql}) "
                   f"ORDER BY rowid DESC LIMIT %s OFFSET %s")
            params = [_fts5_expr(q), *ex_params, limit, offset]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        hits = [Hit(pk, 0.0) for (pk,) in cur.fetchall()]
    if snippets and hits:
        found = snippets_for(kind, query, [h.pk for h in hits])
        for h in hits:
            h.snippet = found.get(h.pk)
    return hits


def _facet_tsquery(ix: SearchIndex, candidate_qs) -> str:
    """The candidates' own equality filters on facet fields (``year=2010``,
    ``fonds_id__in=[…]``, top-level AND only) as a tsquery of facet lexemes. It repeats what
    ``s.id IN (candidates)`` already demands, so it can only narrow the index scan, never
    widen the answer."""
    from django.db.models.expressions import Col
    from django.db.models.lookups import Exact, In

    query = candidate_qs.query
    where = query.where
    if not ix.facets or where.negated or where.connector != "AND":
        return ""
    parts = []
    for child in where.children:
        if not isinstance(child, (Exact, In)) or not isinstance(child.lhs, Col):
            continue
        if child.lhs.alias != query.base_table or child.lhs.target.attname not in ix.facets:
            continue
        values = [child.rhs] if isinstance(child, Exact) else child.rhs
        if not isinstance(values, (list, tuple, set, frozenset)):
            continue  # a subquery: not a constant
        values = [getattr(v, "pk", v) for v in values]
        if not values or any(v is None or v == "" or hasattr(v, "resolve_expression") for v in values):
            continue
        name = child.lhs.target.attname
        parts.append("(" + " | ".join(_quote_lexeme(f"{name}={v}") for v in sorted(map(str, values))) + ")")
    return " & ".join(parts)


def snippets_for(kind: str, query: str, pks: list[int], width: int = 60) -> dict[int, SafeString]:
    """Highlighted snippets of the indexed text of these ids (only they are read)."""
    if not pks:
        return {}
    table = get_index(kind).table
    col = "id" if connection.vendor == "postgresql" else "rowid"
    marks = ", ".join(["%s"] * len(pks))
    with connection.cursor() as cur:
        cur.execute(f"SELECT {col}, raw FROM {table} WHERE {col} IN ({marks})", list(pks))
        raws = dict(cur.fetchall())
    terms = parse(query).terms
    return {pk: highlight(raw, terms, width) for pk, raw in raws.items()}


def highlight(text: str, terms: list[str], width: int = 60) -> SafeString:
    """Escape ``text`` and wrap each occurrence of a term (case-insensitive) in ``<mark>``;
    long text is cut around the first match."""
    text = " ".join((text or "").split())
    if not terms:
        return mark_safe(html.escape(text[:width * 2]))
    pattern = re.compile("|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True)), re.IGNORECASE)
    first = pattern.search(text)
    start = max(0, first.start() - width // 2) if first else 0
    end = min(len(text), start + width * 2)
    part = text[start:end]
    out, pos = [], 0
    for m in pattern.finditer(part):
        out.append(html.escape(part[pos:m.start()]))
        out.append("<mark>" + html.escape(m.group()) + "</mark>")
        pos = m.end()
    out.append(html.escape(part[pos:]))
    return mark_safe(("…" if start else "") + "".join(out) + ("…" if end < len(text) else ""))
