"""Make the audit trails append-only in the database itself: UPDATE and DELETE on them
are refused by triggers, whatever client connects. Someone with DDL rights can still drop
the triggers; the SM3 chain then shows the tampering (``qunli audit verify``)."""

from django.db import migrations

TABLES = ("core_changelog", "core_accesslog")


def create_triggers(apps, schema_editor):
    conn = schema_editor.connection
    with conn.cursor() as cur:
        if conn.vendor == "postgresql":
            cur.execute("""
                CREATE OR REPLACE FUNCTION qunli_append_only() RETURNS trigger AS $$
                BEGIN RAISE EXCEPTION '审计日志只允许追加，不能修改或删除'; END; $$ LANGUAGE plpgsql;""")
            for t in TABLES:
                cur.execute(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                            f"FOR EACH ROW EXECUTE FUNCTION qunli_append_only();")
        elif conn.vendor == "sqlite":
            for t in TABLES:
                for op in ("UPDATE", "DELETE"):
                    cur.execute(f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
                                f"BEGIN SELECT RAISE(ABORT, '审计日志只允许追加，不能修改或删除'); END;")


def drop_triggers(apps, schema_editor):
    conn = schema_editor.connection
    with conn.cursor() as cur:
        for t in TABLES:
            if conn.vendor == "postgresql":
                cur.execute(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t};")
            elif conn.vendor == "sqlite":
                for op in ("update", "delete"):
                    cur.execute(f"DROP TRIGGER IF EXISTS {t}_no_{op};")


class Migration(migrations.Migration):
    dependencies = [("core", "0002_initial")]
    operations = [migrations.RunPython(create_triggers, drop_triggers)]
