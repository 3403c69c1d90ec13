"""Signing in: the session login's backend, the API token endpoint and token
check, and what happens to failed attempts.

- ``StaffBackend``: Django's model backend, reading the signed-in user with
  their store and team (every page's layout shows the store, the policy reads
  both). django-axes' backend stands before it (settings ``AXES_*``).
- ``issue_token``: what ``POST /api/v1/auth/token/`` hands out (the view,
  throttled and seen by django-axes, is ``dcc.api.ObtainTokenView``): a fresh
  token where the old one lapsed.
- ``ExpiringTokenAuthentication``: a token unused for ``API_TOKEN_IDLE_TIMEOUT``
  answers 401.
- ``lockout_response``: what a locked-out login page or token call answers (429).
"""

import logging
import math
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from dcc.middleware import touch_session
from dcc.models import TokenUse

log = logging.getLogger(__name__)


class StaffBackend(ModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        try:
            user = model._default_manager.select_related("store", "team").get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


# ---------------------------------------------------------------- API tokens


def _last_use(token):
    try:
        return token.use.last_used_at
    except TokenUse.DoesNotExist:
        return token.created


TOKEN_KEY = re.compile(r"[0-9a-f]{40}")


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token check, refusing a token unused for API_TOKEN_IDLE_TIMEOUT and
    noting its use at most once per API_TOKEN_TOUCH_INTERVAL. The token, its
    user and its last use come in one query, as DRF's own check does."""

    def authenticate_credentials(self, key):
        # A key is 40 hex digits (DRF's generate_key); anything else (a NUL
        # byte, say, which PostgreSQL refuses in a query) is not looked up.
        if not TOKEN_KEY.fullmatch(key):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        try:
            token = Token.objects.select_related("user", "use").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        now = timezone.now()
        last_use = _last_use(token)
        if now - last_use > settings.API_TOKEN_IDLE_TIMEOUT:
            raise exceptions.AuthenticationFailed(_("The token has expired: request a new one."))
        if now - last_use >= settings.API_TOKEN_TOUCH_INTERVAL:
            TokenUse.objects.update_or_create(token=token, defaults={"last_used_at": now})
        return token.user, token


@transaction.atomic
def issue_token(user) -> Token:
    """The user's token, a new one where the old lapsed; signing in counts as a use."""
    now = timezone.now()
    token, created = Token.objects.get_or_create(user=user)
    if not created and now - _last_use(token) > settings.API_TOKEN_IDLE_TIMEOUT:
        token.delete()
        token = Token.objects.create(user=user)
    TokenUse.objects.update_or_create(token=token, defaults={"last_used_at": now})
    return token


# ---------------------------------------------------------------- failed logins


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: 429 with when to try again; JSON for the API."""
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    message = _(
        "Too many failed sign-ins for this user from this address: "
        "try again in %(minutes)d minutes."
    ) % {"minutes": minutes}
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response


@receiver(user_login_failed)
def log_failed_login(sender, credentials, request=None, **kwargs):
    """One log line per failed sign-in (page, token endpoint or admin);
    django-axes keeps the rows."""
    log.warning(
        "sign-in failed for username=%r from %s at %s",
        credentials.get("username", ""),
        request.META.get("REMOTE_ADDR", "?") if request is not None else "?",
        request.path_info if request is not None else "?",
    )


@receiver(user_logged_in)
def start_idle_clock(sender, request, user, **kwargs):
    """A new session counts as used now (dcc.middleware.SessionIdleTimeoutMiddleware)."""
    if request is not None and hasattr(request, "session"):
        touch_session(request.session)
