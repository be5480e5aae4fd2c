"""The usage rollup counts every generation that finished before it existed.

The same counting as the rollup's own (playground/usage.py rebuild), given
this migration's models: it reads only fields that exist at this point.
From here on lifecycle.succeed and lifecycle.fail add each generation as it
settles. Going back empties the table with it (0015 drops it), so the
reverse has nothing to do.
"""

from django.db import migrations

from playground import usage


def fill(apps, schema_editor):
    usage.rebuild(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("playground", "0015_usage_rollup"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
