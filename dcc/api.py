"""Organisation endpoints (API.md "Organisation"): thin views over the services."""

import django_filters
from axes.helpers import get_client_ip_address
from axes.utils import reset as axes_reset
from rest_framework import mixins, serializers, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from dcc import services
from dcc.api_base import ScopedPrimaryKeyRelatedField, ScopedViewSetMixin
from dcc.api_fields import ModelSerializer
from dcc.auth import issue_token
from dcc.models import Store, Team, User
from dcc.roles import Role


class StoreSerializer(ModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "name", "code", "area_code", "is_active", "created_at"]
        read_only_fields = ["is_active", "created_at"]


class TeamSerializer(ModelSerializer):
    store = ScopedPrimaryKeyRelatedField(queryset=Store.objects.all())

    class Meta:
        model = Team
        fields = ["id", "name", "store", "created_at"]
        read_only_fields = ["created_at"]


class StaffSerializer(ModelSerializer):
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    role = serializers.ChoiceField(choices=Role.choices)
    store = ScopedPrimaryKeyRelatedField(
        queryset=Store.objects.all(), allow_null=True, required=False
    )
    team = ScopedPrimaryKeyRelatedField(
        queryset=Team.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "password",
            "name",
            "role",
            "store",
            "team",
            "extension",
            "is_active",
        ]
        read_only_fields = ["is_active"]
        # The model's constraints are checked by the service's full_clean; DRF's
        # generated unique-together validator would wrongly make store required.
        validators = []

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            # Updates never touch the login or the password here.
            fields.pop("password")
            fields["username"].read_only = True
            fields["is_active"].read_only = False
        return fields


class StaffFilter(django_filters.FilterSet):
    class Meta:
        model = User
        fields = ["store", "team", "role", "is_active"]


class VisibleOrgViewSet(
    ScopedViewSetMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    pass


class StoreViewSet(VisibleOrgViewSet):
    queryset = Store.objects.all()
    serializer_class = StoreSerializer
    capabilities = {"create": "org.store.manage"}

    def perform_create(self, serializer):
        serializer.instance = services.store_create(
            actor=self.request.user, **serializer.validated_data
        )


class TeamViewSet(VisibleOrgViewSet):
    queryset = Team.objects.select_related("store")
    serializer_class = TeamSerializer
    capabilities = {"create": "org.team.manage"}
    filterset_fields = ["store"]

    def perform_create(self, serializer):
        serializer.instance = services.team_create(
            actor=self.request.user, **serializer.validated_data
        )


class StaffViewSet(VisibleOrgViewSet, mixins.UpdateModelMixin):
    queryset = User.objects.select_related("store", "team")
    serializer_class = StaffSerializer
    filterset_class = StaffFilter
    capabilities = {
        "create": "org.staff.manage",
        "update": "org.staff.manage",
        "partial_update": "org.staff.manage",
    }

    def perform_create(self, serializer):
        serializer.instance = services.staff_create(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.staff_update(
            actor=self.request.user, staff=serializer.instance, **serializer.validated_data
        )


class ObtainTokenView(ObtainAuthToken):
    """``POST /api/v1/auth/token/`` ``{"username", "password"}`` → ``{"token"}``
    (API.md "Auth"), throttled (scope ``auth-token``) and, like the login
    page, refused for a while after too many failures (django-axes)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth-token"

    def get_serializer_context(self):
        # django-axes reads and marks Django's own request, not DRF's wrapper:
        # a locked-out attempt then answers 429 through axes' middleware.
        return {**super().get_serializer_context(), "request": self.request._request}

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        # As AXES_RESET_ON_SUCCESS does for the login page (which signals a login).
        axes_reset(ip=get_client_ip_address(request._request), username=user.get_username())
        return Response({"token": issue_token(user).key})
