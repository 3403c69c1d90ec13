import time

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as _LoginRequired

SESSION_TOUCHED = "_dcc_touched"


def touch_session(session) -> None:
    """Mark ``session`` used now: SessionMiddleware then saves it, pushing its
    expiry (database row and cookie) SESSION_COOKIE_AGE ahead."""
    session[SESSION_TOUCHED] = time.time()


class LoginRequiredMiddleware(_LoginRequired):
    """Django's login-required default, except for the API: DRF authenticates
    tokens itself and answers 401 rather than redirecting to the login page."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class ChineseFirstMiddleware:
    """zh-hans unless the user chose otherwise with the language switch.

    Django would follow the browser's Accept-Language; the DCC room's PCs often
    run English-locale browsers while their users expect Chinese, so only the
    language cookie (set by the switch in the layout) may change the language.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)


class SessionIdleTimeoutMiddleware:
    """A session ends after SESSION_COOKIE_AGE without a request.

    Like SESSION_SAVE_EVERY_REQUEST, but a request saves the session only
    when it was last saved SESSION_TOUCH_INTERVAL ago or more: not one write
    per request (nor per htmx poll). Signing in touches it (dcc.auth). Must
    stand after SessionMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.is_empty():
            return response
        touched = session.get(SESSION_TOUCHED)
        if touched is None or time.time() - touched >= settings.SESSION_TOUCH_INTERVAL:
            touch_session(session)
        return response
