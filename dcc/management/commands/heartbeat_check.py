from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from dcc.models import Heartbeat


class Command(BaseCommand):
    help = "Exit non-zero unless a Celery worker ran beat's heartbeat task recently."

    def add_arguments(self, parser):
        parser.add_argument("--max-age", type=int, default=180, help="seconds")

    def handle(self, *args, max_age, **options):
        beat = Heartbeat.objects.filter(name="celery").first()
        if beat is None:
            raise CommandError("no heartbeat yet")
        age = timezone.now() - beat.seen_at
        if age > timedelta(seconds=max_age):
            raise CommandError(f"last heartbeat {age.total_seconds():.0f}s ago")
        self.stdout.write(f"ok: last heartbeat {age.total_seconds():.0f}s ago")
