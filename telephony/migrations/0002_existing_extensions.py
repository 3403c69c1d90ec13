"""Staff who already have an extension hold it since always."""

from django.db import migrations


def forwards(apps, schema_editor):
    User = apps.get_model("dcc", "User")
    Assignment = apps.get_model("telephony", "ExtensionAssignment")
    staff = User.objects.filter(is_active=True, store__isnull=False).exclude(extension="")
    Assignment.objects.bulk_create(
        Assignment(store_id=user.store_id, extension=user.extension, staff=user) for user in staff
    )


class Migration(migrations.Migration):
    dependencies = [("telephony", "0001_calls_recordings_reviews"), ("dcc", "0003_staff_mobile")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
