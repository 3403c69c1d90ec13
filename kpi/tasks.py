"""Celery tasks of the KPIs; declared in the beat schedule in
dcc/settings/base.py. They take ids, re-read their rows and call one service."""

import logging
from datetime import date

from celery import shared_task
from django.utils import timezone

from dcc.models import Store
from kpi import export
from kpi.metrics import Period

logger = logging.getLogger(__name__)


@shared_task(name="kpi.tasks.monthly_export", ignore_result=True)
def monthly_export(today: str | None = None) -> list[str]:
    """On the 1st (local time): keep last month's workbook of every active
    store (``today``, YYYY-MM-DD: the day it runs for, default today). The
    storage names written. Idempotent: a store whose workbook is already kept
    is skipped, so a second run (a redelivered task, a manual rerun) writes
    nothing. The stores' workbooks are built together (each table read once
    for all of them); should that fail, they are built store by store, so
    that one store's failure does not stop the others."""
    day = date.fromisoformat(today) if today else timezone.localdate()
    month = Period.current_month(day).previous()
    stores = [
        store
        for store in Store.objects.filter(is_active=True).order_by("code")
        if not export.kept_exists(store, month)
    ]
    if not stores:
        return []
    try:
        return export.generate_many(stores, month)
    except Exception:
        logger.exception("kpi: monthly export of %s stores at once failed", len(stores))
    kept = []
    for store in stores:
        try:
            name = export_store_month(store.pk, month.month_label)
        except Exception:
            logger.exception("kpi: monthly export of store %s failed", store.pk)
            continue
        if name:
            kept.append(name)
    return kept


@shared_task(name="kpi.tasks.export_store_month", ignore_result=True)
def export_store_month(store_id: int, month: str, *, replace: bool = False) -> str | None:
    """Keep one store's workbook of ``month`` (YYYY-MM) unless it is kept
    already (``replace``: build it again). The storage name, or None when
    nothing was written."""
    store = Store.objects.filter(pk=store_id).first()
    if store is None:
        return None
    period = Period.parse_month(month)
    if not replace and export.kept_exists(store, period):
        return None
    return export.generate_monthly(store, period)
