"""The search outbox (``qunli.core.search``): rows written in the writer's transaction,
drained into the indexes after the commit and by ``qunli reindex``."""

from django.db import migrations


def forward(apps, schema_editor):
    from qunli.core.search import outbox_sql

    with schema_editor.connection.cursor() as cur:
        for sql in outbox_sql(schema_editor.connection.vendor):
            cur.execute(sql)


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS search_outbox")


class Migration(migrations.Migration):
    dependencies = [("core", "0003_append_only_audit")]
    operations = [migrations.RunPython(forward, backward)]
