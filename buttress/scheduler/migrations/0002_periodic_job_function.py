from typing import Any

from django.db import migrations, models
from django.db.models import F


def name_is_job(apps: Any, schema_editor: Any) -> None:
    # Rows made before jobs had their own field were named after their function.
    apps.get_model("scheduler", "PeriodicJob").objects.filter(job="").update(job=F("name"))


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="periodicjob",
            name="job",
            field=models.CharField(default="", max_length=100),
        ),
        migrations.AddField(
            model_name="periodicjob",
            name="last_result",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.RunPython(name_is_job, migrations.RunPython.noop),
    ]
