"""Facet lexemes in the records index (``qunli.core.search``, ``SearchIndex.facets``).

On PostgreSQL ``tsv`` stops being a generated column: ``index_many`` writes it, with the
item's 全宗, 年度, 门类 and 保管期限 as lexemes (``year=2010``) that a filtered search
intersects inside the GIN index. Every row's digest now covers those values too. Both are
rewritten here from the side table and the items (plain SQL, no model code)."""

from django.db import migrations

TABLE = "search_records_item"
FACETS = ("fonds_id", "year", "category_id", "retention")
CHUNK = 5000


def forward(apps, schema_editor):
    from qunli.core.search import digest, facet_lexemes

    conn = schema_editor.connection
    pg = conn.vendor == "postgresql"
    col = "id" if pg else "rowid"
    with conn.cursor() as cur:
        if pg:
            cur.execute(f"ALTER TABLE {TABLE} ALTER COLUMN tsv DROP EXPRESSION IF EXISTS")
            cur.execute(f"ALTER TABLE {TABLE} ALTER COLUMN tsv SET DEFAULT ''::tsvector")
    last = -1
    while True:
        with conn.cursor() as cur:
            cur.execute(f"SELECT s.{col}, s.raw, {', '.join('i.' + f for f in FACETS)} FROM {TABLE} s "
                        f"JOIN records_item i ON i.id = s.{col} WHERE s.{col} > %s ORDER BY s.{col} LIMIT {CHUNK}",
                        [last])
            rows = cur.fetchall()
        if not rows:
            break
        last = rows[-1][0]
        updates = []
        for pk, raw, *values in rows:
            facets = dict(zip(FACETS, values, strict=True))
            updates.append((digest(raw, facets), *([facet_lexemes(facets)] if pg else []), pk))
        with conn.cursor() as cur:
            if pg:
                cur.executemany(f"UPDATE {TABLE} SET digest = %s, tsv = setweight(to_tsvector('simple', grams), 'A') "
                                f"|| to_tsvector('simple', body) || array_to_tsvector(%s::text[]) WHERE id = %s",
                                updates)
            else:
                cur.executemany(f"UPDATE {TABLE} SET digest = %s WHERE rowid = %s", updates)
    if pg:  # every row was rewritten: the planner's figures are stale
        with conn.cursor() as cur:
            cur.execute(f"ANALYZE {TABLE}")


class Migration(migrations.Migration):
    dependencies = [("records", "0008_checks_and_transfer")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
