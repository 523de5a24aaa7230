from django.db import migrations, models


def write(apps, schema_editor):
    apps.get_model("notes", "Note").objects.using(schema_editor.connection.alias).create(text="from a data migration")


class Migration(migrations.Migration):
    initial = True
    operations = [
        migrations.CreateModel("Note", [("id", models.AutoField(primary_key=True)),
                                        ("text", models.CharField(max_length=100))]),
        migrations.RunPython(write, migrations.RunPython.noop),
    ]
