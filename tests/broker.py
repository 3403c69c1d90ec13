"""The Celery broker as the web process sees it, switched for a test."""

from contextlib import contextmanager

from dcc.celery import app

# Nothing listens on port 1: every connection is refused at once.
UNREACHABLE = "redis://127.0.0.1:1/0"


@contextmanager
def broker_unreachable(url: str = UNREACHABLE):
    """Point the Celery app (not a mock: its real Redis transport) at a
    broker that is down, then back at the configured one. The connection
    and producer pools are built from the URL, so they are dropped both
    ways (kombu keeps the configured broker's pool, found again after)."""
    saved = app.conf.broker_url

    def use(broker_url):
        app.conf.broker_url = broker_url
        app._pool = None
        app.amqp._producer_pool = None

    use(url)
    try:
        yield
    finally:
        use(saved)
