"""Every wallet now has its team; the per-user column goes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_team_wallet_data")]

    operations = [
        migrations.RemoveField(model_name="creditaccount", name="user"),
        migrations.AlterField(
            model_name="creditaccount",
            name="team",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="wallet",
                to="accounts.team",
            ),
        ),
    ]
