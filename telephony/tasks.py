"""Celery tasks for telephony; declared in the beat schedule in
dcc/settings/base.py."""

import logging

from celery import shared_task

from telephony import recordings, services
from telephony.models import CDR_FORMATS, CallSource

log = logging.getLogger(__name__)


@shared_task(name="telephony.tasks.import_folders", ignore_result=True)
def import_folders() -> dict:
    """Import what is new in every active source's folder: call logs and
    recordings. Files imported before (same content) are skipped and each
    file's rows are keyed, so two runs at once or a rerun add nothing. A
    source that fails (its folder gone) is logged and the others go on."""
    services.mark_interrupted()
    totals = {"files": 0, "skipped": 0, "failed_sources": 0}
    sources = CallSource.objects.filter(is_active=True).exclude(folder="").select_related("store")
    for source in sources:
        try:
            if source.format in CDR_FORMATS:
                results = services.import_cdr_folder(
                    store=source.store, folder=source.folder, pattern=source.pattern, source=source
                )
                for _path, report in results:
                    totals["files" if report is not None else "skipped"] += 1
            else:
                totals["files"] += len(
                    recordings.import_recording_folder(source=source, via="folder")
                )
        except Exception:
            log.exception("importing the folder of call-log source %s failed", source.pk)
            totals["failed_sources"] += 1
    return totals
