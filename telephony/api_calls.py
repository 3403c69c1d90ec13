"""/api/v1/ telephony endpoints (API.md "Telephony"): call-log imports and
calls. Routes in ``urlpatterns``, collected by telephony.api_urls.

- ``POST /api/v1/telephony/cdr-imports/`` runs ``telephony.services.import_cdr``
  in the request and answers its report; ``GET`` lists the reports.
- ``GET /api/v1/calls/`` and ``/{id}/``: calls in the caller's scope
  (``Call.objects.visible_to``: the agent who made a call and the lead's
  owner see it, a supervisor the team's, a manager the store's).

Errors follow ``leads.api``: a store or a source outside the caller's scope
is a 400 on that field (like the lead import's ``store``), a wrong role a
403, an object outside the scope a 404.
"""

import re
from datetime import datetime

import django_filters
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from dcc.api_base import ScopedPrimaryKeyRelatedField, ScopedViewSetMixin
from dcc.api_fields import DateTimeField, IsoDateTimeFilter, ModelSerializer
from dcc.models import Store, User
from followups.models import FollowUp
from followups.serializers import choice_field
from leads.filters import scoped
from leads.models import Lead
from telephony import services
from telephony.models import (
    CDR_FORMATS,
    AnsweredBy,
    Call,
    CallImport,
    CallSource,
    Direction,
    Disposition,
    Format,
    ImportKind,
    ImportStatus,
    Recording,
)

# ---------------------------------------------------------------- calls: output


def audio_path(recording_id: int) -> str:
    """Where the recordings API serves a recording's audio (API.md)."""
    return f"/api/v1/recordings/{recording_id}/audio/"


class CallRecordingSerializer(ModelSerializer):
    audio = serializers.SerializerMethodField(
        help_text="GET it for the audio (scoped; every play is logged)."
    )

    class Meta:
        model = Recording
        fields = ["id", "audio"]
        read_only_fields = fields

    def get_audio(self, recording) -> str:
        return audio_path(recording.pk)


def _direction():
    return choice_field(Direction.choices, component="CallDirectionEnum", read_only=True)


def _disposition():
    return choice_field(Disposition.choices, component="CallDispositionEnum", read_only=True)


def _answered_by():
    return choice_field(AnsweredBy.choices, component="CallAnsweredByEnum", read_only=True)


class CallSerializer(ModelSerializer):
    direction = _direction()
    disposition = _disposition()
    answered_by = _answered_by()
    rang_extensions = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Every extension that rang, in order (a missed call keeps who missed it).",
    )
    agent_name = serializers.CharField(
        source="agent.display_name", read_only=True, default=None, allow_null=True
    )
    lead_name = serializers.CharField(
        source="lead.customer.name", read_only=True, default=None, allow_null=True
    )
    number_display = serializers.CharField(
        read_only=True, help_text="The customer's number as people write it."
    )
    recordings = CallRecordingSerializer(many=True, read_only=True)

    class Meta:
        model = Call
        fields = [
            "id",
            "store",
            "started_at",
            "answered_at",
            "ended_at",
            "duration",
            "billsec",
            "ring_seconds",
            "wait_seconds",
            "answered_by",
            "direction",
            "disposition",
            "extension",
            "rang_extensions",
            "queue",
            "agent",
            "agent_name",
            "lead",
            "lead_name",
            "external_number",
            "number_display",
            "new_caller",
            "uniqueid",
            "recordings",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "duration": {"help_text": "Seconds from the first ring to the last hang-up."},
            "billsec": {"help_text": "Seconds of talk between the customer and agents only."},
            "ring_seconds": {
                "help_text": "From the first leg that rang a phone to the agent's answer; "
                "null unless answered_by is agent."
            },
            "wait_seconds": {
                "help_text": "From the call's start to the agent's answer, else to the hang-up."
            },
            "queue": {"help_text": "The queue the call went through, or empty."},
            "extension": {"help_text": "The agent's extension (the one that answered first)."},
            "agent": {"help_text": "Whoever had the extension at the time."},
            "lead": {"help_text": "The lead of the customer's number, matched at import."},
            "external_number": {"help_text": "The customer's number in E.164."},
            "new_caller": {"help_text": "An inbound call from a number no lead had yet."},
        }


class _LegTime(DateTimeField):
    """Leg times are kept as ISO text in UTC: shown in the server's zone."""

    def to_representation(self, value):
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return super().to_representation(value)


class CallLegSerializer(serializers.Serializer):
    """One CDR line of the call, as read (TELEPHONY.md: a transfer or a
    ring group writes several)."""

    line = serializers.IntegerField(help_text="The line of the file it was read from.")
    uniqueid = serializers.CharField()
    linkedid = serializers.CharField()
    sequence = serializers.CharField()
    started_at = _LegTime()
    answered_at = _LegTime(allow_null=True)
    ended_at = _LegTime()
    duration = serializers.IntegerField()
    billsec = serializers.IntegerField()
    disposition = serializers.CharField()
    direction = serializers.CharField()
    extension = serializers.CharField(allow_null=True)
    external_number = serializers.CharField(allow_null=True)
    external_raw = serializers.CharField()
    src = serializers.CharField()
    dst = serializers.CharField()
    clid = serializers.CharField()
    channel = serializers.CharField()
    dstchannel = serializers.CharField()
    lastapp = serializers.CharField(default="", help_text="The dialplan application it ended in.")
    lastdata = serializers.CharField(default="")


class CallDetailSerializer(CallSerializer):
    legs = CallLegSerializer(many=True, read_only=True)
    verified_followups = serializers.SerializerMethodField(
        help_text="Ids of the follow-ups (you can see) that this call proves were made."
    )

    class Meta(CallSerializer.Meta):
        fields = [*CallSerializer.Meta.fields, "legs", "verified_followups"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_verified_followups(self, call) -> list[int]:
        request = self.context.get("request")
        followups = FollowUp.objects.visible_to(getattr(request, "user", None))
        return list(
            followups.filter(verified_call=call).order_by("pk").values_list("pk", flat=True)
        )


class LeadCallSerializer(CallSerializer):
    """A call as listed on its lead (GET /api/v1/leads/{id}/)."""

    class Meta(CallSerializer.Meta):
        fields = [
            "id",
            "started_at",
            "ended_at",
            "duration",
            "billsec",
            "ring_seconds",
            "wait_seconds",
            "answered_by",
            "direction",
            "disposition",
            "extension",
            "rang_extensions",
            "queue",
            "agent",
            "agent_name",
            "external_number",
            "number_display",
            "new_caller",
            "recordings",
        ]
        read_only_fields = fields


def visible_calls(user):
    """The calls ``user`` may see, with what a row shows: the agent and the
    lead's customer joined, the recordings (that ``user`` may see) in one
    more query."""
    recordings = Recording.objects.visible_to(user).only("pk", "call_id").order_by("started_at")
    return (
        Call.objects.visible_to(user)
        .select_related("agent", "lead__customer")
        .prefetch_related(Prefetch("recordings", queryset=recordings))
    )


# ---------------------------------------------------------------- calls: filters


_DIGITS = re.compile(r"\D")


class CallFilter(django_filters.FilterSet):
    """Related objects resolve within the caller's scope: naming a lead or a
    member of staff the caller cannot see is a 400, like the lead list's."""

    lead = django_filters.ModelChoiceFilter(queryset=scoped(Lead), label=gettext_lazy("lead"))
    agent = django_filters.ModelChoiceFilter(queryset=scoped(User), label=gettext_lazy("agent"))
    store = django_filters.ModelChoiceFilter(queryset=scoped(Store), label=gettext_lazy("store"))
    direction = django_filters.MultipleChoiceFilter(
        choices=Direction.choices, label=gettext_lazy("direction")
    )
    disposition = django_filters.MultipleChoiceFilter(
        choices=Disposition.choices, label=gettext_lazy("result")
    )
    answered_by = django_filters.MultipleChoiceFilter(
        choices=AnsweredBy.choices, label=gettext_lazy("answered by")
    )
    started_after = IsoDateTimeFilter(
        field_name="started_at", lookup_expr="gte", label=gettext_lazy("started from")
    )
    started_before = IsoDateTimeFilter(
        field_name="started_at", lookup_expr="lt", label=gettext_lazy("started before")
    )
    new_caller = django_filters.BooleanFilter(label=gettext_lazy("first-time caller"))
    number = django_filters.CharFilter(
        method="filter_number", label=gettext_lazy("customer number (any part of its digits)")
    )

    class Meta:
        model = Call
        fields = []

    def filter_number(self, queryset, name, value):
        digits = _DIGITS.sub("", value)
        return queryset.filter(external_number__contains=digits) if digits else queryset


# ---------------------------------------------------------------- calls: views


class CallViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Calls from the PBX logs in the caller's scope, newest first: an agent
    sees the calls they made and those on their leads, a supervisor the
    team's, a manager the store's."""

    queryset = Call.objects.all()  # narrowed by get_queryset; declared for the router
    filterset_class = CallFilter
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        queryset = visible_calls(self.request.user)
        if self.action != "retrieve":
            queryset = queryset.defer("legs")  # only the detail shows them
        return queryset

    def get_serializer_class(self):
        return CallDetailSerializer if self.action == "retrieve" else CallSerializer


# ---------------------------------------------------------------- imports


class CdrImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The call-log file (CDR), e.g. Asterisk's Master.csv.")
    format = choice_field(
        [(value, Format(value).label) for value in CDR_FORMATS],
        component="CdrFormatEnum",
        required=False,
        help_text="The file's format; left out: the source's when `source` is given, else "
        "recognised from the file's header or line shape (the answer's `format` says which); "
        "a file no parser reads is a 400 saying what it looks like.",
    )
    source = serializers.PrimaryKeyRelatedField(
        queryset=CallSource.objects.all(),
        required=False,
        allow_null=True,
        help_text="A call-log source of the store: its column map, time zone, dial prefixes "
        "and area code apply.",
    )
    # Scoped: a store outside the caller's scope is a 400 on this field.
    store = ScopedPrimaryKeyRelatedField(
        queryset=Store.objects.all(),
        required=False,
        allow_null=True,
        help_text="The store to import into; default the caller's own (or the source's); "
        "for a group administrator, the stores the file's extensions name (each call goes "
        "to the store of who had its extension then). 400 only where neither tells.",
    )

    def get_fields(self):
        fields = super().get_fields()
        # A source belongs to a store: any source of a store the caller sees.
        user = getattr(self.context.get("request"), "user", None)
        fields["source"].queryset = CallSource.objects.filter(
            store__in=Store.objects.visible_to(user)
        ).select_related("store")
        return fields

    def validate(self, attrs):
        source, store = attrs.get("source"), attrs.get("store")
        if source is not None:
            if store is not None and source.store_id != store.pk:
                raise ValidationError(
                    {"source": [_("This call-log source belongs to another store.")]}
                )
            if attrs.get("format") and attrs["format"] != source.format:
                raise ValidationError(
                    {"format": [_("The source's files are in its own format: leave this out.")]}
                )
            store = source.store
        # None: a group administrator's file names its stores (services.import_cdr).
        attrs["store"] = store or self.context["request"].user.store
        return attrs


class ImportLineErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="The line of the file (the first is 1).")
    message = serializers.CharField()


class CallImportSerializer(ModelSerializer):
    format = choice_field(Format.choices, component="CallImportFormatEnum", read_only=True)
    status = choice_field(ImportStatus.choices, component="CallImportStatusEnum", read_only=True)
    errors = ImportLineErrorSerializer(
        many=True,
        read_only=True,
        help_text=f"The bad lines, skipped (the good ones are imported): the first "
        f"{CallImport.MAX_ERRORS_KEPT} are kept; error_count counts them all.",
    )

    class Meta:
        model = CallImport
        fields = [
            "id",
            "store",
            "source",
            "format",
            "file_name",
            "file_size",
            "via",
            "started_by",
            "started_at",
            "finished_at",
            "status",
            "lines",
            "imported",
            "duplicates",
            "calls",
            "matched_leads",
            "unmatched",
            "unknown_extensions",
            "error_count",
            "errors",
            "failure",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "via": {"help_text": "upload (page), api, command or folder (the beat job)."},
            "lines": {"help_text": "Lines read, up to the last one."},
            "imported": {"help_text": "New CDR lines (legs) stored; 0 when re-importing a file."},
            "duplicates": {"help_text": "Lines already stored (from this or an earlier file)."},
            "calls": {"help_text": "New calls (a call has one or more legs)."},
            "matched_leads": {"help_text": "Calls of this import matched to a lead's number."},
            "unmatched": {"help_text": "Calls of this import whose number no lead has."},
            "unknown_extensions": {"help_text": "Calls whose extension nobody had at the time."},
            "error_count": {"help_text": "All bad lines (errors lists the first ones)."},
            "failure": {"help_text": "Why an import failed (then none of its lines were kept)."},
        }


class CallImportListSerializer(CallImportSerializer):
    """A report in the list: its counts without the lines' errors."""

    class Meta(CallImportSerializer.Meta):
        fields = [name for name in CallImportSerializer.Meta.fields if name != "errors"]
        read_only_fields = fields


class CallImportFilter(django_filters.FilterSet):
    store = django_filters.ModelChoiceFilter(queryset=scoped(Store), label=gettext_lazy("store"))
    status = django_filters.MultipleChoiceFilter(
        choices=ImportStatus.choices, label=gettext_lazy("status")
    )

    class Meta:
        model = CallImport
        fields = []


class CdrImportViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Call-log imports and their reports (supervisors, managers, admins)."""

    queryset = CallImport.objects.filter(kind=ImportKind.CDR)
    filterset_class = CallImportFilter
    parser_classes = [MultiPartParser, FormParser]
    lookup_value_regex = r"\d+"
    # The reports are the importers': everyone else is refused, not shown a list.
    capabilities = dict.fromkeys(["create", "list", "retrieve"], "telephony.import")

    def get_serializer_class(self):
        return CallImportListSerializer if self.action == "list" else CallImportSerializer

    @extend_schema(
        request={"multipart/form-data": CdrImportRequestSerializer},
        responses={
            200: CallImportSerializer,
            400: OpenApiResponse(
                description="No file, an empty file, an unknown format, or a store or source "
                "outside the caller's scope: a message per field."
            ),
            403: OpenApiResponse(description="Only supervisors, managers and admins import."),
        },
        description=(
            "Import a call-log file into a store, in the request. Re-importing a file "
            "imports nothing (`imported` 0, every line a duplicate); calls whose legs come "
            "in a later file are completed. Bad lines are skipped and listed in `errors` "
            f"(status 200; the first {CallImport.MAX_ERRORS_KEPT} are kept, `error_count` "
            "counts them all); the good lines are imported. Calls are matched to staff "
            "(by who had the extension then) and to leads (by number), and logged "
            "follow-ups are verified against them."
        ),
    )
    def create(self, request):
        form = CdrImportRequestSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = form.validated_data
        upload = data["file"]
        try:
            report = services.import_cdr(
                actor=request.user,
                store=data["store"],
                fileobj=upload.file,
                file_name=upload.name,
                source=data.get("source"),
                format=data.get("format"),
                via="api",
            )
        except services.StoreNeeded as exc:
            raise ValidationError({"store": [str(exc)]}) from exc
        except services.ImportRejected as exc:
            field = "source" if data.get("source") is not None else "file"
            raise ValidationError({field: [str(exc)]}) from exc
        return Response(CallImportSerializer(report, context={"request": request}).data)


router = SimpleRouter()
router.register("telephony/cdr-imports", CdrImportViewSet, basename="cdr-import")
router.register("calls", CallViewSet, basename="call")

urlpatterns = router.urls
