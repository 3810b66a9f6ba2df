"""The records index, re-tokenized (``qunli.core.search``): CJK bigrams in a ``grams`` column,
ASCII runs in ``body``, no jieba words; the table is recreated and refilled from the items."""

from django.db import migrations

TABLE = "search_records_item"


def forward(apps, schema_editor):
    from qunli.core.search import create_table_sql, index_row

    conn = schema_editor.connection
    col = "id" if conn.vendor == "postgresql" else "rowid"
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        for sql in create_table_sql(TABLE, conn.vendor):
            cur.execute(sql)
    Item = apps.get_model("records", "Item")
    rows = []
    for it in Item.objects.only("id", "title", "responsible", "doc_no", "archival_code").iterator(chunk_size=5000):
        text = "\n".join([it.title or "", it.responsible or "", it.doc_no or "", it.archival_code or ""])
        rows.append(index_row(it.pk, text))
        if len(rows) >= 5000:
            _insert(conn, col, rows)
            rows = []
    _insert(conn, col, rows)


def _insert(conn, col, rows):
    if rows:
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {TABLE} ({col}, body, grams, raw, digest) VALUES (%s, %s, %s, %s, %s)",
                            rows)


class Migration(migrations.Migration):
    dependencies = [("records", "0003_search_index")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
