"""Two review fixes.

* The public catalogue index (``search_records_catalogue``, kind ``records.catalogue``): the
  catalogue fields of every item (题名, 责任者, 文件编号, 档号) and no file text. The public
  portal, its export and the public API search through it, so a word found only in a file's
  text is no longer findable (or quoted in a snippet) without a 利用 request. Filled here from
  the items; afterwards the outbox keeps it current with the full-text index.
* ``UseRequest.holder`` (保管单位): the unit that provides the use — the fonds' unit, or the
  archives holding the items after an accepted transfer. Existing requests were all provided by
  their fonds' unit."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

TABLE = "search_records_catalogue"
KIND = "records.catalogue"
FIELDS = ("title", "responsible", "doc_no", "archival_code")
FACETS = ("fonds_id", "year", "category_id", "retention")
CHUNK = 5000


def create_catalogue(apps, schema_editor):
    from qunli.core.search import create_table_sql, index_many

    conn = schema_editor.connection
    with conn.cursor() as cur:
        for sql in create_table_sql(TABLE, conn.vendor):
            cur.execute(sql)
    Item = apps.get_model("records", "Item")
    batch = []
    for row in Item.objects.order_by("pk").values_list("pk", *FIELDS, *FACETS).iterator(chunk_size=CHUNK):
        pk, texts, facets = row[0], row[1:1 + len(FIELDS)], row[1 + len(FIELDS):]
        batch.append((pk, "\n".join(t or "" for t in texts), dict(zip(FACETS, facets, strict=True))))
        if len(batch) >= CHUNK:
            index_many(KIND, batch)
            batch = []
    index_many(KIND, batch)


def drop_catalogue(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")


def fill_holder(apps, schema_editor):
    UseRequest = apps.get_model("records", "UseRequest")
    Fonds = apps.get_model("records", "Fonds")
    UseRequest.objects.filter(holder__isnull=True).update(
        holder_id=Subquery(Fonds.objects.filter(pk=OuterRef("fonds_id")).values("unit_id")[:1]))


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0006_position_covering_index"),
        ("records", "0009_search_facets"),
    ]

    operations = [
        migrations.RunPython(create_catalogue, drop_catalogue),
        migrations.AddField(
            model_name="userequest",
            name="holder",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                    to="orgs.unit", verbose_name="保管单位"),
        ),
        migrations.RunPython(fill_holder, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="userequest",
            name="holder",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="orgs.unit",
                                    verbose_name="保管单位"),
        ),
    ]
