"""Drop the plain ``id_number_hash`` index (the partial unique index serves the look-ups
through ``PersonQuerySet.with_id_number_hash``) and the LIKE-prefix indexes PostgreSQL built
for both hash columns; ``phone_hash`` keeps a plain index, now a named Meta index.

Written by hand: the AlterField that ``makemigrations`` writes for ``db_index=False``
drops, on PostgreSQL, every index on the column — the partial unique index
``person_unique_id_number`` too, which would end 一人一档 uniqueness — and rebuilds the whole
table on SQLite. Here the state changes as AlterField says, and the database loses exactly
the indexes that ``db_index=True`` had made (their names are Django's, the same on every
database; the ``_like`` ones exist on PostgreSQL only)."""

from django.db import migrations, models

OLD_INDEXES = ("people_person_id_number_hash_3d26bfc4", "people_person_id_number_hash_3d26bfc4_like",
               "people_person_phone_hash_0f1e8fe3", "people_person_phone_hash_0f1e8fe3_like")


class Migration(migrations.Migration):

    dependencies = [
        ('orgs', '0006_position_covering_index'),
        ('people', '0004_membership_unit_single_index_dropped'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='person',
                    name='id_number_hash',
                    field=models.CharField(blank=True, default='', max_length=32),
                ),
                migrations.AlterField(
                    model_name='person',
                    name='phone_hash',
                    field=models.CharField(blank=True, default='', max_length=32),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    [f'DROP INDEX IF EXISTS "{name}"' for name in OLD_INDEXES],
                    reverse_sql=['CREATE INDEX "people_person_id_number_hash_3d26bfc4" ON "people_person" ("id_number_hash")',
                                 'CREATE INDEX "people_person_phone_hash_0f1e8fe3" ON "people_person" ("phone_hash")'],
                ),
            ],
        ),
        migrations.AddIndex(
            model_name='person',
            index=models.Index(fields=['phone_hash'], name='person_phone_hash'),
        ),
    ]
