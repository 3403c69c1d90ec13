"""Telephony (DESIGN §4): call-log sources, calls with their legs, who had
which extension when, recordings and their play log, quality reviews.

Rules live in ``telephony.services`` (importing, matching, reviewing);
parsers in ``telephony.parsers``; nothing here knows a file format.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.fields.json import KeyTransform
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from dcc.policy import Level, ScopedQuerySet, ScopePaths
from followups.models import FollowupPolicy
from leads import phones
from telephony import parsers


class Direction(models.TextChoices):
    INBOUND = parsers.INBOUND, _("Inbound")
    OUTBOUND = parsers.OUTBOUND, _("Outbound")
    INTERNAL = parsers.INTERNAL, _("Internal")


class Disposition(models.TextChoices):
    ANSWERED = parsers.ANSWERED, _("Answered")
    NO_ANSWER = parsers.NO_ANSWER, _("No answer")
    BUSY = parsers.BUSY, _("Busy")
    FAILED = parsers.FAILED, _("Failed")
    CONGESTION = parsers.CONGESTION, _("Congestion")


class AnsweredBy(models.TextChoices):
    """Who answered a call (telephony.parsers.leg_answerer): a person at a
    phone, only the PBX's applications (IVR, voicemail, queue hold), nobody."""

    AGENT = parsers.AGENT, _("Agent")
    SYSTEM = parsers.SYSTEM, _("System (IVR, voicemail)")
    NONE = parsers.NONE, _("Nobody")


class Format(models.TextChoices):
    ASTERISK_CSV = "asterisk_csv", _("Asterisk / FreePBX Master.csv")
    FREEPBX_RECORDINGS = "freepbx_recordings", _("FreePBX recording file names")
    CARD_INDEX = "card_index", _("Recording card index (CSV)")
    FREEPBX_WEB = "freepbx_web", _("FreePBX / Issabel CDR report (CSV export)")
    YEASTAR = "yeastar", _("Yeastar P-Series / S-Series CDR (CSV)")
    THREECX = "threecx", _("3CX CDR log or call log")
    FREESWITCH_CSV = "freeswitch_csv", _("FreeSWITCH cdr_csv Master.csv")
    NAMED_FILES = "named_files", _("Recorder file names (a file-name pattern)")


CDR_FORMATS = (
    Format.ASTERISK_CSV,
    Format.FREEPBX_WEB,
    Format.YEASTAR,
    Format.THREECX,
    Format.FREESWITCH_CSV,
)
# What import_cdr makes calls of: call logs, and a recording card's index
# (a store with a card and no PBX log; telephony.recordings imports its
# recordings and their calls together).
CALL_FORMATS = (*CDR_FORMATS, Format.CARD_INDEX)


class StoreScoped(ScopedQuerySet):
    """Store-wide settings and reports (sources, extension ranges, import
    reports, the checklist): a supervisor sees their store's, like a
    manager; agents none."""

    scope_paths = ScopePaths(store="store")

    def scope_q(self, user, level):
        if level is Level.TEAM:
            level = Level.STORE
        return super().scope_q(user, level)


class CallSource(models.Model):
    """One PBX, recording card or export that writes files: how it writes
    them (TELEPHONY.md) and, optionally, the folder a beat job imports from."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.CASCADE, related_name="call_sources", verbose_name=_("store")
    )
    name = models.CharField(_("name"), max_length=60)
    format = models.CharField(
        _("format"), max_length=30, choices=Format.choices, default=Format.ASTERISK_CSV
    )
    columns = models.CharField(
        _("column map"),
        max_length=500,
        blank=True,
        default="",
        help_text=_(
            "Field names in file order, comma-separated (an empty name skips a column). "
            "Empty: the format's reference layout."
        ),
    )
    time_zone = models.CharField(
        _("time zone of the times in the files"),
        max_length=50,
        default="Asia/Shanghai",
        help_text=_("Asterisk writes the PBX's local time unless usegmtime=yes: then UTC."),
    )
    dial_prefixes = models.CharField(
        _("outside-line prefixes"),
        max_length=50,
        blank=True,
        default="9",
        help_text=_("Digits agents dial before an outside number, comma-separated."),
    )
    area_code = models.CharField(
        _("area code"),
        max_length=5,
        blank=True,
        default="",
        help_text=_("Prepended to local landline numbers written without one, e.g. 021."),
    )
    extension_min_length = models.PositiveSmallIntegerField(
        _("shortest extension"), default=3, validators=[MinValueValidator(2)]
    )
    extension_max_length = models.PositiveSmallIntegerField(
        _("longest extension"), default=4, validators=[MaxValueValidator(6)]
    )
    channel_extensions = models.JSONField(_("card channel → extension"), blank=True, default=dict)
    caller_prefix_chars = models.PositiveSmallIntegerField(
        _("characters before the caller's number"),
        default=0,
        help_text=_("Donjin cards write MMDDhhmm (8 characters) before the number."),
    )
    file_name_pattern = models.CharField(
        _("file-name pattern of the recordings"),
        max_length=300,
        blank=True,
        default="",
        help_text=_(
            "For recorders that only name their files: a regular expression with the groups "
            "start, number (or caller and callee), extension or channel, direction; or a ready "
            "pattern: card_start_caller_callee, channel_direction_number_start, yeastar."
        ),
    )
    date_order = models.CharField(
        _("date order"),
        max_length=3,
        choices=[
            ("ymd", _("year-month-day")),
            ("dmy", _("day/month/year")),
            ("mdy", _("month/day/year")),
        ],
        default="ymd",
        help_text=_("How the PBX displays dates (Yeastar's date format setting)."),
    )
    folder = models.CharField(
        _("import folder"),
        max_length=300,
        blank=True,
        default="",
        help_text=_("Files appearing here are imported every few minutes. Empty: upload only."),
    )
    pattern = models.CharField(
        _("file name pattern"),
        max_length=100,
        default="*.csv*",
        help_text=_("The default also matches rotated logs (Master.csv-20261103, Master.csv.1)."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()
    objects = StoreScoped.as_manager()

    class Meta:
        ordering = ["store", "name"]
        verbose_name = _("call-log source")
        verbose_name_plural = _("call-log sources")
        constraints = [
            models.UniqueConstraint(fields=["store", "name"], name="call_source_unique_name")
        ]

    def __str__(self):
        return self.name

    def clean(self):
        # Each refusal on its field (admin, page and API show it there).
        try:
            ZoneInfo(self.time_zone)
        except (ValueError, LookupError) as error:
            raise ValidationError({"time_zone": _("Unknown time zone.")}) from error
        if self.format == Format.NAMED_FILES:
            from telephony.parsers.named_files import compile_pattern

            try:
                compile_pattern(self.file_name_pattern)
            except ValueError as error:
                raise ValidationError({"file_name_pattern": str(error)}) from error
        try:
            self.config()
        except (ValueError, LookupError) as error:
            field = "columns" if self.columns else None
            raise ValidationError({field: str(error)} if field else str(error)) from error

    def config(self) -> parsers.SourceConfig:
        columns = tuple(c.strip() for c in self.columns.split(",")) if self.columns else None
        prefixes = tuple(p.strip() for p in self.dial_prefixes.split(",") if p.strip())
        return parsers.SourceConfig(
            format=self.format,
            columns=columns,
            tz=self.time_zone,
            dial_prefixes=prefixes,
            area_code=self.area_code,
            extension_lengths=(self.extension_min_length, self.extension_max_length),
            channel_extensions={str(k): str(v) for k, v in self.channel_extensions.items()},
            caller_prefix_chars=self.caller_prefix_chars,
            date_order=self.date_order,
            file_name_pattern=self.file_name_pattern,
        )


class ExtensionAssignment(models.Model):
    """Who answered an extension when: extensions get reassigned, and an
    old call belongs to whoever had the extension at the time.

    ``valid_from`` empty: since before any call on record (the first holder).
    Kept in step with ``User.extension`` by ``telephony.receivers``; a
    manager corrects the ranges in the admin.
    """

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store")
    )
    extension = models.CharField(_("extension"), max_length=20)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="extension_assignments",
        verbose_name=_("staff"),
    )
    valid_from = models.DateTimeField(_("from"), null=True, blank=True)
    valid_to = models.DateTimeField(_("until"), null=True, blank=True)

    history = HistoricalRecords()
    objects = StoreScoped.as_manager()

    class Meta:
        ordering = ["store", "extension", "valid_from"]
        verbose_name = _("extension assignment")
        verbose_name_plural = _("extension assignments")
        indexes = [
            models.Index(fields=["store", "extension", "valid_from"], name="ext_assign_lookup_idx")
        ]

    def __str__(self):
        return f"{self.extension} → {self.staff}"

    def clean(self):
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValidationError({"valid_to": _("The end must come after the start.")})
        overlapping = ExtensionAssignment.objects.filter(
            store_id=self.store_id, extension=self.extension
        ).exclude(pk=self.pk)
        if self.valid_to:
            overlapping = overlapping.filter(
                Q(valid_from__isnull=True) | Q(valid_from__lt=self.valid_to)
            )
        if self.valid_from:
            overlapping = overlapping.filter(
                Q(valid_to__isnull=True) | Q(valid_to__gt=self.valid_from)
            )
        if overlapping.exists():
            raise ValidationError(
                _("Extension %(ext)s is assigned to someone else in this period.")
                % {"ext": self.extension}
            )


class ImportKind(models.TextChoices):
    CDR = "cdr", _("Call log")
    RECORDINGS = "recordings", _("Recordings")


class ImportStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    INTERRUPTED = "interrupted", _("Interrupted")


class CallImportQuerySet(StoreScoped):
    pass


class CallImport(models.Model):
    """The report of one import: written before the import starts and
    committed on its own, so an import that dies leaves a report saying so
    (its rows are in one transaction: all or none)."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store")
    )
    source = models.ForeignKey(
        CallSource,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="imports",
        verbose_name=_("source"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=ImportKind.choices)
    format = models.CharField(_("format"), max_length=30, choices=Format.choices)
    file_name = models.CharField(_("file"), max_length=300)
    file_sha256 = models.CharField(
        max_length=64, blank=True, default="", verbose_name=_("file sha256")
    )
    file_size = models.BigIntegerField(default=0, verbose_name=_("file size"))
    via = models.CharField(
        _("via"), max_length=12, default="upload"
    )  # upload, api, command, folder
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.RUNNING
    )
    lines = models.PositiveIntegerField(_("lines read"), default=0)
    imported = models.PositiveIntegerField(_("imported"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    calls = models.PositiveIntegerField(_("new calls"), default=0)
    matched_leads = models.PositiveIntegerField(_("matched to leads"), default=0)
    unmatched = models.PositiveIntegerField(_("unknown numbers"), default=0)
    unknown_extensions = models.PositiveIntegerField(_("unknown extensions"), default=0)
    error_count = models.PositiveIntegerField(_("bad lines"), default=0)
    # The first errors, [{"line", "message"}]; error_count has them all.
    errors = models.JSONField(default=list, blank=True, verbose_name=_("errors"))
    failure = models.TextField(_("failure"), blank=True, default="")

    objects = CallImportQuerySet.as_manager()

    MAX_ERRORS_KEPT = 1000

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("call import")
        verbose_name_plural = _("call imports")
        indexes = [models.Index(fields=["store", "started_at"], name="call_import_store_idx")]

    def __str__(self):
        return self.file_name

    def count_matches(self, rows) -> None:
        """The report's matching figures from ``rows``, the calls or
        recordings it brought (one aggregate): tied to a lead, with a number
        no lead has, on an extension nobody had."""
        counts = rows.aggregate(
            matched=models.Count("pk", filter=Q(lead__isnull=False)),
            unmatched=models.Count("pk", filter=Q(lead__isnull=True) & ~Q(external_number="")),
            unknown=models.Count("pk", filter=Q(agent__isnull=True) & ~Q(extension="")),
        )
        self.matched_leads = counts["matched"]
        self.unmatched = counts["unmatched"]
        self.unknown_extensions = counts["unknown"]


class CallLikeQuerySet(ScopedQuerySet):
    """Calls and recordings are scoped like their lead, and the agent who
    made the call sees it too: a supervisor sees the team's agents' calls
    and the calls on the team's leads; a manager the store's."""

    scope_paths = ScopePaths(store="store", team="agent__team", own="agent")

    def own_q(self, user):
        return Q(agent=user) | Q(lead__owner=user)

    def scope_q(self, user, level):
        q = super().scope_q(user, level)
        if level is Level.TEAM and user.team_id:
            q |= Q(lead__owner__team=user.team_id)
        return q


def answered_q(prefix: str = "") -> Q:
    """A call an agent answered (not the IVR, voicemail or queue hold)."""
    return Q(**{f"{prefix}answered_by": AnsweredBy.AGENT})


def answered_in_time_q(prefix: str = "") -> Q:
    """THE rule of "answered in time" (seed 001: within three rings), used by
    the call statistics and the KPIs alike: an inbound call an agent
    answered with ring time (from the call reaching the agents to the
    answer) at most the store's ``answer_within_seconds``, or the default
    where the store never saved its follow-up settings. Written as an OR
    with the missing policy rather than a COALESCE so that the policy join
    stays a LEFT JOIN in ``filter()`` too (an inner join dropped every call
    of a store without a policy row). ``prefix``: the path to the call."""
    default = FollowupPolicy._meta.get_field("answer_within_seconds").default
    policy = f"{prefix}store__followup_policy"
    return (
        Q(**{f"{prefix}direction": Direction.INBOUND, f"{prefix}ring_seconds__isnull": False})
        & answered_q(prefix)
        & (
            Q(**{f"{policy}__isnull": True, f"{prefix}ring_seconds__lte": default})
            | Q(**{f"{prefix}ring_seconds__lte": F(f"{policy}__answer_within_seconds")})
        )
    )


class CallQuerySet(CallLikeQuerySet):
    def answered(self):
        """Answered by an agent (answered_q)."""
        return self.filter(answered_q())


class LegsField(models.JSONField):
    """A call's legs, stored compact (telephony.cdr.legs: each leg an array
    of its values), read as objects naming them, as before."""

    def from_db_value(self, value, expression, connection):
        value = super().from_db_value(value, expression, connection)
        if value.__class__ is not list or isinstance(expression, KeyTransform):
            return value
        from telephony.cdr.legs import expand

        return [expand(leg) for leg in value]


class Call(models.Model):
    """One call, its CDR legs merged (TELEPHONY.md: one call, several legs
    sharing linkedid). ``legs`` keeps every leg as read."""

    # Store and import: no foreign-key constraint in the database. An import
    # writes up to a million calls whose store and report are the same two
    # rows, created and locked by the import itself; checking those two
    # constants once per row was a third of PostgreSQL's work in a
    # million-row import (benchmark). Django still cascades and nulls them
    # on delete (it does that itself, not the database).
    store = models.ForeignKey(
        "dcc.Store",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("store"),
    )
    # linkedid, else uniqueid, else the row's content key: the identity that
    # makes re-imports add nothing (unique per store).
    key = models.CharField(max_length=80, verbose_name=_("key"))
    uniqueid = models.CharField(max_length=80, blank=True, default="", verbose_name=_("uniqueid"))
    source = models.ForeignKey(
        CallSource,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("source"),
    )
    call_import = models.ForeignKey(
        CallImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,  # as store, above
        verbose_name=_("call import"),
    )
    started_at = models.DateTimeField(_("started"))
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"))
    duration = models.PositiveIntegerField(_("duration (s)"), default=0)
    billsec = models.PositiveIntegerField(_("talk time (s)"), default=0)
    # From the first leg that rang a phone to the agent's answer (empty when
    # no agent answered): seed 001's "answered within three rings".
    ring_seconds = models.PositiveIntegerField(_("ring time (s)"), null=True, blank=True)
    # From the call's start to the agent's answer, else to the hang-up: what
    # the customer waited (IVR and queue included).
    wait_seconds = models.PositiveIntegerField(_("wait (s)"), null=True, blank=True)
    answered_by = models.CharField(
        _("answered by"), max_length=6, choices=AnsweredBy.choices, default=AnsweredBy.NONE
    )
    # Every extension that rang, in order: a missed call keeps who missed it.
    rang_extensions = models.JSONField(_("extensions that rang"), default=list, blank=True)
    # The queue the call went through (an abandoned queue call has no extension).
    queue = models.CharField(_("queue"), max_length=40, blank=True, default="")
    disposition = models.CharField(_("result"), max_length=12, choices=Disposition.choices)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    extension = models.CharField(_("extension"), max_length=20, blank=True, default="")
    external_number = models.CharField(_("customer number"), max_length=20, blank=True, default="")
    external_raw = models.CharField(
        max_length=40, blank=True, default="", verbose_name=_("external raw")
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calls",
        verbose_name=_("agent"),
        db_index=False,
    )
    lead = models.ForeignKey(
        "leads.Lead",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calls",
        verbose_name=_("lead"),
        db_index=False,
    )
    # An inbound call whose number no lead had when it was imported: a
    # first-time caller (来电客流), the base of the card-creation rate. Stays
    # true when the caller later becomes a lead.
    new_caller = models.BooleanField(_("first-time caller"), default=False)
    legs = LegsField(default=list, verbose_name=_("legs"))
    # A missed call from a number no lead has: the agent who took its call
    # back from the store's shared list (telephony.callbacks).
    callback_claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("call back taken by"),
        db_index=False,
    )

    objects = CallQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        constraints = [
            models.UniqueConstraint(fields=["store", "key"], name="call_unique_key_per_store")
        ]
        indexes = [
            # Statistics per store and day; the calls list.
            models.Index(fields=["store", "started_at"], name="call_store_time_idx"),
            # Per agent per day; verifying follow-ups.
            models.Index(fields=["agent", "started_at"], name="call_agent_time_idx"),
            # A lead's timeline.
            models.Index(fields=["lead", "started_at"], name="call_lead_time_idx"),
            # Matching numbers to leads; first-time callers.
            models.Index(fields=["store", "external_number"], name="call_store_number_idx"),
            # KPIs over many months (kpi.metrics: call productivity, agent-days,
            # first-time callers): customer calls by time with every column
            # those aggregates read, so a group's year is an index-only scan
            # instead of a heap scan of the whole call log (10 s at 2.6M
            # calls). Internal calls are left out; calls are written once
            # (relinking a lead or agent already updates two indexes).
            models.Index(
                fields=["started_at"],
                include=[
                    "id",
                    "store",
                    "agent",
                    "lead",
                    "direction",
                    "disposition",
                    "answered_by",
                    "ring_seconds",
                    "billsec",
                    "external_number",
                    "new_caller",
                ],
                condition=Q(direction__in=["inbound", "outbound"]),
                name="call_customer_time_idx",
            ),
            # First-time callers (kpi.metrics.figures.caller_counts): the
            # inbound calls with a number of a period, a tenth of the calls
            # (the group's twelve months: 1.0 s to 0.5 s at 2.6M calls).
            models.Index(
                fields=["started_at"],
                include=["id", "store", "agent", "lead", "external_number", "new_caller"],
                condition=Q(direction="inbound") & ~Q(external_number=""),
                name="call_inbound_number_time_idx",
            ),
        ]

    def __str__(self):
        return f"{self.get_direction_display()} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def answered(self) -> bool:
        """Answered by an agent (the IVR or voicemail answering is not)."""
        return self.answered_by == AnsweredBy.AGENT

    @property
    def number_display(self) -> str:
        return phones.display(self.external_number) if self.external_number else self.external_raw


class Recording(models.Model):
    """An audio file of a call, stored through Django's storage API."""

    store = models.ForeignKey(
        "dcc.Store",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        verbose_name=_("store"),
    )
    call = models.ForeignKey(
        Call,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recordings",
        verbose_name=_("call"),
    )
    # uniqueid where the name carries one, else the file's SHA-256: a file
    # uploaded twice is stored once.
    key = models.CharField(max_length=100, verbose_name=_("key"))
    file = models.FileField(_("file"), upload_to="recordings/%Y/%m/%d/", max_length=300)
    original_name = models.CharField(_("file name"), max_length=300)
    sha256 = models.CharField(max_length=64, verbose_name=_("sha256"))
    size = models.BigIntegerField(default=0, verbose_name=_("size"))
    content_type = models.CharField(
        max_length=60, default="audio/wav", verbose_name=_("content type")
    )
    started_at = models.DateTimeField(_("started"))
    duration = models.PositiveIntegerField(_("duration (s)"), null=True, blank=True)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    extension = models.CharField(_("extension"), max_length=20, blank=True, default="")
    external_number = models.CharField(_("customer number"), max_length=20, blank=True, default="")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recordings",
        verbose_name=_("agent"),
    )
    lead = models.ForeignKey(
        "leads.Lead",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recordings",
        verbose_name=_("lead"),
    )
    call_import = models.ForeignKey(
        CallImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("call import"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    objects = CallLikeQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")
        constraints = [
            models.UniqueConstraint(fields=["store", "key"], name="recording_unique_key_per_store")
        ]
        indexes = [models.Index(fields=["store", "started_at"], name="recording_store_time_idx")]

    def __str__(self):
        return self.original_name

    @property
    def number_display(self) -> str:
        return phones.display(self.external_number) if self.external_number else ""


class PlaybackQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="recording__store", team="user__team", own="user")


class Playback(models.Model):
    """Every play and download of a recording: who, when, how."""

    class Action(models.TextChoices):
        PLAY = "play", _("Played")
        DOWNLOAD = "download", _("Downloaded")

    recording = models.ForeignKey(
        Recording, on_delete=models.CASCADE, related_name="playbacks", verbose_name=_("recording")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    at = models.DateTimeField(_("when"), auto_now_add=True)
    via = models.CharField(max_length=10, default="web", verbose_name=_("via"))  # web, api

    objects = PlaybackQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("recording playback")
        verbose_name_plural = _("recording playbacks")
        indexes = [models.Index(fields=["recording", "at"], name="playback_recording_idx")]

    def __str__(self):
        return f"{self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"


class ReviewItem(models.Model):
    """One line of a store's quality checklist (seed 001: recordings serve
    quality review). Retired items keep their scores on old reviews."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store")
    )
    label = models.CharField(_("item"), max_length=100)
    hint = models.CharField(_("what to listen for"), max_length=300, blank=True, default="")
    points = models.PositiveSmallIntegerField(
        _("points"), default=20, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()
    objects = StoreScoped.as_manager()

    class Meta:
        ordering = ["store", "order", "id"]
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")

    def __str__(self):
        return self.label


class ReviewQuerySet(ScopedQuerySet):
    # The agent sees the reviews of their calls; the supervisor the team's.
    scope_paths = ScopePaths(store="store", team="agent__team", own="agent")

    def own_q(self, user):
        return Q(agent=user) | Q(reviewer=user)


class Review(models.Model):
    """A supervisor's score of one recording on the store's checklist."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store")
    )
    recording = models.ForeignKey(
        Recording, on_delete=models.CASCADE, related_name="reviews", verbose_name=_("recording")
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="reviews",
        verbose_name=_("agent"),
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reviewer"),
    )
    # [{"item": id, "label", "points", "score"}]: the checklist as it was.
    scores = models.JSONField(default=list, verbose_name=_("scores"))
    total = models.PositiveSmallIntegerField(_("score"))
    max_total = models.PositiveSmallIntegerField(_("out of"))
    # total / max_total × 100, two decimals: comparable across checklists.
    percent = models.DecimalField(_("score (%)"), max_digits=5, decimal_places=2)
    comment = models.TextField(_("comment"), blank=True, default="")
    created_at = models.DateTimeField(_("reviewed"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    history = HistoricalRecords()
    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("call review")
        verbose_name_plural = _("call reviews")
        constraints = [
            models.UniqueConstraint(
                fields=["recording", "reviewer"], name="review_once_per_reviewer"
            )
        ]
        indexes = [models.Index(fields=["agent", "created_at"], name="review_agent_time_idx")]

    def __str__(self):
        return f"{self.recording} {self.percent}%"
