from django.db import migrations

CATEGORIES = [("WS", "文书", 10), ("ZP", "照片", 20), ("LX", "录音录像", 30), ("KJ", "会计", 40),
              ("KY", "科技", 50), ("SW", "实物", 60)]


def seed(apps, schema_editor):
    Category = apps.get_model("records", "Category")
    for code, name, order in CATEGORIES:
        Category.objects.get_or_create(code=code, defaults={"name": name, "order": order})


def unseed(apps, schema_editor):
    apps.get_model("records", "Category").objects.filter(code__in=[c for c, _, _ in CATEGORIES]).delete()


class Migration(migrations.Migration):
    dependencies = [("records", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
