"""What every API view of DCC is built from (STYLE.md "Permissions").

- ``ScopedViewSetMixin``: the queryset always passes through the policy's
  ``visible_to``: an object outside the caller's scope answers 404 and is
  filtered out of lists. A test walks every registered API view to check
  that it derives from this mixin.
- ``CapabilityPermission``: the action's capability from ``dcc.policy``; a
  wrong role answers 403.
- ``ScopedPrimaryKeyRelatedField``: ids of related objects resolve only
  within the caller's scope, so naming another store's team is a 400.
- ``exception_handler``: a model's ``ValidationError`` (from ``full_clean``
  in a service) becomes a 400 with a message per field.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.views import exception_handler as drf_exception_handler

from dcc.policy import can


class CapabilityPermission(BasePermission):
    def has_permission(self, request, view):
        capability = getattr(view, "capabilities", {}).get(getattr(view, "action", None))
        return capability is None or can(request.user, capability)


class ScopedViewSetMixin:
    permission_classes = [IsAuthenticated, CapabilityPermission]
    # action name -> capability; actions not named need only a signed-in user
    capabilities: dict[str, str] = {}

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user)


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        return queryset.visible_to(request.user) if request else queryset.none()


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(detail=serializers.as_serializer_error(exc))
    return drf_exception_handler(exc, context)


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
