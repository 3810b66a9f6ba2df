"""The records full-text index: an FTS5 table on SQLite, a side table with a GIN-indexed
``tsvector`` ('simple' config over the pre-segmented text) on PostgreSQL. Existing items are
indexed here once; afterwards the outbox keeps the index current."""

from django.db import migrations

TABLE = "search_records_item"


def forward(apps, schema_editor):
    from qunli.core.search import create_table_sql, digest, segment

    conn = schema_editor.connection
    with conn.cursor() as cur:
        for sql in create_table_sql(TABLE, conn.vendor):
            cur.execute(sql)
    Item = apps.get_model("records", "Item")
    col = "id" if conn.vendor == "postgresql" else "rowid"
    rows = []
    for it in Item.objects.only("id", "title", "responsible", "doc_no", "archival_code").iterator(chunk_size=5000):
        text = "\n".join([it.title or "", it.responsible or "", it.doc_no or "", it.archival_code or ""])
        rows.append((it.pk, segment(text), text, digest(text)))
    if rows:
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {TABLE} ({col}, body, raw, digest) VALUES (%s, %s, %s, %s)", rows)


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")


class Migration(migrations.Migration):
    dependencies = [("records", "0002_seed_categories"), ("core", "0004_search_outbox")]
    operations = [migrations.RunPython(forward, backward)]
