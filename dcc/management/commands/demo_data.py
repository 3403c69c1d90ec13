import importlib
import importlib.util

from django.core.management.base import BaseCommand
from django.db import transaction

from dcc import demo

# Each app that has demo data provides ``<app>/demo.py`` with ``load()``.
APP_LOADERS = ("leads.demo", "followups.demo", "telephony.demo", "kpi.demo")


class Command(BaseCommand):
    help = "Load the demo organisation and data (idempotent) and print every login."

    @transaction.atomic
    def handle(self, *args, **options):
        logins = demo.load()
        for module in APP_LOADERS:
            if importlib.util.find_spec(module) is not None:
                importlib.import_module(module).load()
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready. Every login's password is {demo.DEMO_PASSWORD}:")
        )
        for username, role_label in logins:
            self.stdout.write(f"  {username:<15} {role_label}")
