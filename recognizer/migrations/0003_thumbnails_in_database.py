# Thumbnails move from MEDIA_ROOT files into the database, so every app node reads the same ones.
# Existing files are copied in (an entry whose file is already gone keeps no thumbnail); the files
# themselves are left in MEDIA_ROOT/thumbnails/ for the operator to delete once the migration is done.

import hashlib

from django.core.files.storage import default_storage
from django.db import migrations, models
import django.db.models.deletion


def copy_files_into_rows(apps, schema_editor):
    HistoryEntry = apps.get_model("recognizer", "HistoryEntry")
    Thumbnail = apps.get_model("recognizer", "Thumbnail")
    for entry in HistoryEntry.objects.exclude(thumbnail="").iterator():
        try:
            with default_storage.open(entry.thumbnail.name, "rb") as file:
                jpeg = file.read()
        except (OSError, ValueError):
            continue
        digest = hashlib.sha256(jpeg).hexdigest()
        Thumbnail.objects.get_or_create(sha256=digest, defaults={"jpeg": jpeg})
        entry.stored_thumbnail_id = digest
        entry.save(update_fields=["stored_thumbnail"])


class Migration(migrations.Migration):

    dependencies = [
        ('recognizer', '0002_weights_fingerprint'),
    ]

    operations = [
        migrations.CreateModel(
            name='Thumbnail',
            fields=[
                ('sha256', models.CharField(max_length=64, primary_key=True, serialize=False)),
                ('jpeg', models.BinaryField()),
            ],
        ),
        migrations.AddField(
            model_name='historyentry',
            name='stored_thumbnail',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='recognizer.thumbnail'),
        ),
        migrations.RunPython(copy_files_into_rows, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='historyentry',
            name='thumbnail',
        ),
        migrations.RenameField(
            model_name='historyentry',
            old_name='stored_thumbnail',
            new_name='thumbnail',
        ),
    ]
