"""Import call-log files (or every file of a folder) into a store."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dcc.models import Store
from telephony import services
from telephony.models import CallSource, Format


class Command(BaseCommand):
    help = "Import PBX call logs (Asterisk Master.csv …) from files or folders. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="files or folders")
        parser.add_argument("--store", required=True, help="the store's code")
        parser.add_argument("--source", help="a call-log source's name (its column map, zone…)")
        parser.add_argument(
            "--format",
            default=None,
            choices=[f.value for f in Format],
            help="left out: recognised from each file's first lines",
        )
        parser.add_argument(
            "--pattern",
            default=services.ROTATED_PATTERN,
            help="file names in a folder (the default matches rotated logs too)",
        )

    def handle(self, *args, paths, store, source, format, pattern, **options):
        try:
            store = Store.objects.get(code=store)
        except Store.DoesNotExist as error:
            raise CommandError(f"no store with code {store!r}") from error
        if source:
            source = CallSource.objects.filter(store=store, name=source).first()
            if source is None:
                raise CommandError(f"store {store.code} has no call-log source {source!r}")
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                results = services.import_cdr_folder(
                    store=store,
                    folder=path,
                    pattern=pattern,
                    source=source,
                    format=format,
                    via="command",
                )
            elif path.is_file():
                with path.open("rb") as fileobj:
                    try:
                        report = services.import_cdr(
                            actor=None,
                            store=store,
                            fileobj=fileobj,
                            file_name=str(path),
                            source=source,
                            format=format,
                            via="command",
                        )
                    except services.ImportRejected as error:
                        raise CommandError(f"{path}: {error}") from error
                results = [(path, report)]
            else:
                raise CommandError(f"{path}: no such file or folder")
            for file_path, report in results:
                self.stdout.write(self._line(file_path, report))

    def _line(self, path, report):
        if report is None:
            return f"{path}: imported before, skipped (imported 0)"
        text = (
            f"{path}: {report.status} ({report.format}), imported {report.imported}, "
            f"duplicates {report.duplicates}, calls {report.calls}, "
            f"matched to leads {report.matched_leads}, unknown numbers {report.unmatched}, "
            f"unknown extensions {report.unknown_extensions}, bad lines {report.error_count}"
        )
        for error in report.errors[:20]:
            text += f"\n  line {error['line']}: {error['message']}"
        return text
