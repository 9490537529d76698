"""TranslationUsage.day (backfilled from started_at), failed sessions in the roll-up, and UsageRollup.

No day counts as rolled up afterwards: DailyUsage rows written before lack `failed_sessions`,
so the dashboard reads the sessions until the roll-up task has recomputed each day.
"""

from datetime import UTC

from django.db import migrations, models
from django.db.models.functions import TruncDate


def backfill_day(apps, schema_editor):
    usage = apps.get_model("rooms", "TranslationUsage")
    usage.objects.filter(day__isnull=True).update(day=TruncDate("started_at", tzinfo=UTC))


class Migration(migrations.Migration):
    dependencies = [
        ("rooms", "0003_usage_metering"),
    ]

    operations = [
        migrations.AddField(
            model_name="translationusage",
            name="day",
            field=models.DateField(null=True),
        ),
        migrations.RunPython(backfill_day, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="translationusage",
            name="day",
            field=models.DateField(),
        ),
        migrations.AddIndex(
            model_name="translationusage",
            index=models.Index(fields=["day", "updated_at"], name="usage_day_updated"),
        ),
        migrations.AddField(
            model_name="dailyusage",
            name="failed_sessions",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.CreateModel(
            name="UsageRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(unique=True)),
                ("rolled_up_at", models.DateTimeField()),
            ],
        ),
    ]
