"""``/api/v1/telephony/call-sources/``: call-log sources set up by the
store's managers and administrators (issue 15, point 5), scoped by
``CallSource.objects.visible_to``; ``POST …/try/`` (a file, and the
settings to read it with) answers the first calls as they would be
imported, saving nothing. Every settings error is a 400 with its reason."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from dcc.api_base import ScopedViewSetMixin
from dcc.models import Store
from telephony import call_sources
from telephony.models import CallSource


class CallSourceSerializer(serializers.ModelSerializer):
    store = serializers.PrimaryKeyRelatedField(queryset=Store.objects.all(), required=False)

    class Meta:
        model = CallSource
        fields = ["id", "store", *call_sources.EDITABLE]
        # The store may come from the caller; save_source's full_clean checks
        # the unique name (a 400, never an IntegrityError).
        validators = []


class TryFileSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.CharField(required=False, allow_blank=True)


def _errors(error: DjangoValidationError):
    if hasattr(error, "error_dict"):
        return {
            field: [str(m) for e in errors for m in e.messages]
            for field, errors in error.error_dict.items()
        }
    return {"non_field_errors": error.messages}


class CallSourceViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = CallSource.objects.select_related("store")
    serializer_class = CallSourceSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    lookup_value_regex = r"\d+"
    capabilities = dict.fromkeys(
        ["list", "retrieve", "create", "partial_update", "update", "try_file"],
        "telephony.sources.manage",
    )

    def _save(self, request, source):
        form = CallSourceSerializer(source, data=request.data, partial=source is not None)
        form.is_valid(raise_exception=True)
        values = dict(form.validated_data)
        store = values.pop("store", None) or (source.store if source else request.user.store)
        if store is None:
            raise ValidationError({"store": ["Choose the store."]})
        if not Store.objects.visible_to(request.user).filter(pk=store.pk).exists():
            raise ValidationError({"store": ["Not a store of yours."]})
        try:
            saved = call_sources.save_source(
                actor=request.user, source=source, store=store, values=values
            )
        except DjangoValidationError as error:
            raise ValidationError(_errors(error)) from error
        except DjangoPermissionDenied as error:
            raise PermissionDenied() from error
        return Response(CallSourceSerializer(saved).data, status=201 if source is None else 200)

    def create(self, request):
        return self._save(request, None)

    def partial_update(self, request, pk=None):
        return self._save(request, self.get_object())

    def update(self, request, pk=None):
        return self._save(request, self.get_object())

    @action(detail=False, methods=["post"], url_path="try")
    def try_file(self, request):
        """The first 20 calls of a file read with the posted settings."""
        form = TryFileSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        values = {k: request.data.get(k) for k in call_sources.EDITABLE if k in request.data}
        store = request.user.store or Store.objects.visible_to(request.user).first()
        probe = CallSource(store=store)
        for key, value in values.items():
            if key in ("extension_min_length", "extension_max_length", "caller_prefix_chars"):
                value = int(value)
            if key in ("is_active", "channel_extensions"):
                continue
            setattr(probe, key, value)
        detect = not request.data.get("format")
        if detect:
            probe.format = "asterisk_csv"
        try:
            config = probe.config()
            preview = call_sources.try_file(
                store=store, config=config, data=form.validated_data["file"].read(), detect=detect
            )
        except (ValueError, LookupError) as error:
            raise ValidationError({"non_field_errors": [str(error)]}) from error
        except DjangoValidationError as error:
            raise ValidationError(_errors(error)) from error
        return Response(
            {
                "format": preview.format,
                "calls": [
                    {
                        "started_at": row.started_at.isoformat(),
                        "direction": row.direction,
                        "extension": row.extension,
                        "staff": row.staff,
                        "number": row.number,
                        "answered_by": row.answered_by,
                        "ring_seconds": row.ring_seconds,
                        "talk_seconds": row.talk_seconds,
                    }
                    for row in preview.rows
                ],
                "errors": [{"line": e.line, "message": e.message} for e in preview.errors],
            }
        )


router = SimpleRouter()
router.register("telephony/call-sources", CallSourceViewSet, basename="call-source")
urlpatterns = router.urls
