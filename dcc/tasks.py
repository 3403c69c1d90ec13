from celery import shared_task

from dcc.services import heartbeat_touch


@shared_task(name="dcc.tasks.heartbeat", ignore_result=True)
def heartbeat():
    """Beat sends it every minute and a worker runs it: the row's age tells an
    administrator whether both are alive."""
    heartbeat_touch(name="celery")


@shared_task(name="dcc.tasks.ping")
def ping():
    """Round trip through broker, worker and result backend (used by tests and
    `manage.py celery_ping`)."""
    return "pong"
