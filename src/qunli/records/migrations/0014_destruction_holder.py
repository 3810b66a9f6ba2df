from django.db import migrations, models
import django.db.models.deletion


def holder_is_the_fonds_unit(apps, schema_editor):
    """Batches made so far held only items their fonds' unit kept (custody was refused)."""
    DestructionBatch = apps.get_model("records", "DestructionBatch")
    for batch in DestructionBatch.objects.select_related("fonds").iterator():
        DestructionBatch.objects.filter(pk=batch.pk).update(holder_id=batch.fonds.unit_id)


class Migration(migrations.Migration):

    dependencies = [
        ('orgs', '0007_unit_name_sort'),
        ('records', '0013_itemfile_origin'),
    ]

    operations = [
        migrations.AddField(
            model_name='destructionbatch',
            name='holder',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+',
                                    to='orgs.unit', verbose_name='保管单位'),
        ),
        migrations.RunPython(holder_is_the_fonds_unit, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='destructionbatch',
            name='holder',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+',
                                    to='orgs.unit', verbose_name='保管单位'),
        ),
    ]
