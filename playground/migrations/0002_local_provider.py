from django.db import migrations


def add_local_renderer(apps, schema_editor):
    Provider = apps.get_model("playground", "Provider")
    Provider.objects.get_or_create(
        name="Local renderer", defaults={"kind": "local", "priority": 1000, "enabled": True}
    )


class Migration(migrations.Migration):
    dependencies = [("playground", "0001_generations")]

    operations = [migrations.RunPython(add_local_renderer, migrations.RunPython.noop)]
