"""Celery tasks of leads: each takes ids, re-reads its rows and calls one
service (STYLE.md)."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from leads import importer
from leads.models import ImportStatus, LeadImport

# A queued import whose message was lost (broker down at enqueue time) is
# sent again after this long by the sweep.
REQUEUE_AFTER = timedelta(minutes=2)


@shared_task(name="leads.tasks.run_lead_import", ignore_result=True)
def run_lead_import(import_id: int) -> None:
    """Run a queued file import (``leads.importer.run_queued_import``);
    claimed once, whoever else received the same message."""
    importer.run_queued_import(import_id)


@shared_task(name="leads.tasks.requeue_lead_imports", ignore_result=True)
def requeue_lead_imports() -> int:
    """The sweep behind ``enqueue_on_commit``: imports still queued a while
    after they were started are sent to a worker again."""
    due = LeadImport.objects.filter(
        status=ImportStatus.QUEUED, created_at__lte=timezone.now() - REQUEUE_AFTER
    ).values_list("pk", flat=True)
    count = 0
    for pk in due:
        run_lead_import.delay(pk)
        count += 1
    return count
