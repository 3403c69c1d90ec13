"""Celery tasks of campaigns: each takes ids and calls one service."""

from celery import shared_task

from followups.campaigns import services


@shared_task(name="campaigns.tasks.dispatch_round", ignore_result=True)
def dispatch_round(round_id: int):
    return services.round_dispatch(round_id)


@shared_task(name="campaigns.tasks.finish_rounds", ignore_result=True)
def finish_rounds():
    return services.rounds_finish()


@shared_task(name="campaigns.tasks.generate_calls", ignore_result=True)
def generate_calls():
    """Members of launched campaigns due a call become call tasks
    (``followups.campaigns.calls``: idempotent, whoever runs it twice)."""
    from django.utils import timezone

    from followups.campaigns import calls

    return calls.generate_due(now=timezone.now())
