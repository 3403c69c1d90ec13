"""Import the recordings in a folder (FreePBX names, or a recording card's
index files) into a store. Idempotent: files stored before are skipped."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dcc.models import Store
from telephony import recordings
from telephony.models import CallSource, Format
from telephony.services import ImportRejected

RECORDING_FORMATS = (Format.FREEPBX_RECORDINGS, Format.CARD_INDEX)


class Command(BaseCommand):
    help = (
        "Import call recordings from a folder: FreePBX recording names anywhere below it, "
        "or a recording card's index CSV files (paths relative to the folder). Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", nargs="?", help="the folder (default: the source's)")
        parser.add_argument("--store", required=True, help="the store's code")
        parser.add_argument(
            "--source", help="a call-log source's name (its format, zone, channel map…)"
        )
        parser.add_argument(
            "--format",
            default=Format.FREEPBX_RECORDINGS,
            choices=[f.value for f in RECORDING_FORMATS],
            help="without --source",
        )
        parser.add_argument("--pattern", default="*.csv", help="index files (card_index)")
        parser.add_argument(
            "--min-age",
            type=int,
            default=None,
            help="seconds a FreePBX file must be untouched (it is written during the call)",
        )

    def handle(self, *args, folder, store, source, format, pattern, min_age, **options):
        try:
            store = Store.objects.get(code=store)
        except Store.DoesNotExist as error:
            raise CommandError(f"no store with code {store!r}") from error
        if source:
            name = source
            source = CallSource.objects.filter(store=store, name=name).first()
            if source is None:
                raise CommandError(f"store {store.code} has no call-log source {name!r}")
        else:
            # The format's reference layout in the server's zone.
            source = CallSource(
                store=store,
                name="command",
                format=format,
                pattern=pattern,
                time_zone=settings.TIME_ZONE,
                area_code=store.area_code,
            )
        if not folder and not source.folder:
            raise CommandError("name the folder (the source has none)")
        try:
            reports = recordings.import_recording_folder(
                source=source, via="command", folder=folder, min_age=min_age
            )
        except ImportRejected as error:
            raise CommandError(str(error)) from error
        if not reports:
            self.stdout.write("nothing new (imported 0)")
        for report in reports:
            self.stdout.write(self._line(report))

    def _line(self, report):
        text = (
            f"{report.file_name}: {report.status}, files {report.lines}, "
            f"imported {report.imported}, duplicates {report.duplicates}, "
            f"matched to leads {report.matched_leads}, unknown numbers {report.unmatched}, "
            f"unknown extensions {report.unknown_extensions}, problems {report.error_count}"
        )
        for error in report.errors[:20]:
            text += f"\n  line {error['line']}: {error['message']}"
        return text
