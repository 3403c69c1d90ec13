"""Celery tasks of campaigns: each takes ids and calls one service."""

from celery import shared_task

from followups.campaigns import services


@shared_task(name="campaigns.tasks.dispatch_round", ignore_result=True)
def dispatch_round(round_id: int):
    return services.round_dispatch(round_id)


@shared_task(name="campaigns.tasks.finish_rounds", ignore_result=True)
def finish_rounds():
    return services.rounds_finish()
