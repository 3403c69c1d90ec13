"""Demo follow-ups for `make run`: when an agent logs in, every section of the
call queue has work in it, and the supervisor's and manager's pages have
history to show.

Per store (after ``leads.demo``):

1. History on the leads already there: one to three calls each, the first
   within minutes, hours or days of receipt (so the first-contact figures
   vary and some manufacturer leads were called after their 48 hours).
2. For every agent and caller, leads for each queue section: new leads with
   a first-contact deadline (a manufacturer lead about to miss its 48 hours,
   a fresh one, a web lead without deadline, one already past it), an
   overdue follow-up, a call to retry (not reached two hours ago), one due
   today, a visit tomorrow to confirm and one in three days (its reminder SMS
   waiting); then a visit that happened (with a test drive), a no-show, a
   cancellation, and for the first agent a visit past its time that nobody
   marked and a lead not reached three times, escalated to the supervisor.
3. The SMS outbox in each state: sent, reminders waiting, one failed (the
   provider refused the template) and one whose outcome is unknown.
4. The SLA sweep and the appointment grace check, as Celery beat runs them.

Everything goes through the services, a manager recording back-dated calls
for the agent who made them, so derived fields (first contact, deadlines met,
attempts, statuses) are what the rules make them. Direct updates only do
what no service may: move a booked visit into the past and set SMS outcomes.
Nothing is sent while loading: booking messages are planned for after the
commit and, being marked with their outcome here, are skipped by a worker.

Idempotent: a store that already has follow-ups is left alone; leads and
times come from a fixed seed and the current time.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from django.utils import timezone

from dcc.demo import business_hours
from dcc.models import Store, User
from dcc.roles import Role
from dcc.timeutils import local_day_start
from followups import services, sla, sms
from followups.models import Appointment, FollowUp, SmsKind, SmsMessage, SmsStatus
from leads import services as lead_services
from leads.demo import GIVEN, MOBILE_PREFIXES, SURNAMES
from leads.models import Channel, Lead, Source, Status, VehicleModel

# How long after receipt the first call of an existing lead came: a third
# within five minutes, most within hours, some after days.
FIRST_CONTACT_DELAYS = [
    timedelta(minutes=2),
    timedelta(minutes=3),
    timedelta(minutes=4),
    timedelta(minutes=12),
    timedelta(minutes=40),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=20),
    timedelta(days=2, hours=3),
    timedelta(days=3),
]
NOTES = {
    "reached": ["客户在对比竞品，约周末再聊", "关注油耗和保养费用", "想了解置换补贴", ""],
    "no_answer": ["无人接听", "关机", "占线"],
    "invited": ["约好到店试驾"],
    "refused": ["最近没空到店"],
}
FAILED_ERROR = "FailedOperation.TemplateIncorrectOrUnapproved: 模板未审批"


def load():
    for store in Store.objects.filter(code__in=["SH01", "SZ01"]).order_by("code"):
        if FollowUp.objects.filter(store=store).exists():
            continue
        _StoreDemo(store).load()


class _StoreDemo:
    def __init__(self, store):
        self.store = store
        self.rng = random.Random(f"dcc-followups-demo-{store.code}")  # noqa: S311 - demo data
        self.now = timezone.now()
        today = timezone.localdate(self.now)
        self.today_start = local_day_start(today)
        self.tomorrow = today + timedelta(days=1)
        self.manager = User.objects.filter(store=store, role=Role.MANAGER).order_by("pk").first()
        self.agents = list(
            User.objects.filter(
                store=store, role__in=[Role.AGENT, Role.CALLER], is_active=True
            ).order_by("username")
        )
        self.receivers = list(
            User.objects.filter(store=store, role=Role.CONSULTANT, is_active=True).order_by("pk")
        )
        self.models = list(VehicleModel.objects.order_by("pk"))
        self.channels = list(Channel.objects.order_by("sort_order", "pk"))

    def load(self):
        if self.manager is None or not self.agents:
            return
        self.existing_history()
        for index, agent in enumerate(self.agents):
            self.queue_sections(agent, index)
            self.visits(agent, index)
        self.first_agent_extras(self.agents[0])
        self.deals()
        self.outbox_outcomes()
        sla.sweep_breaches(now=self.now)
        sla.flag_overdue_appointments(now=self.now)

    # ---------------------------------------------------------------- helpers

    def _local(self, day, hour: int, minute: int = 0) -> datetime:
        return timezone.make_aware(datetime.combine(day, time(hour, minute)))

    def _lead(self, agent, *, source=Source.WEB, received: timedelta) -> Lead:
        """A new lead of ``agent``'s, entered by the manager ``received`` ago."""
        rng = self.rng
        while True:
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
            phone = rng.choice(MOBILE_PREFIXES) + "".join(rng.choices("0123456789", k=8))
            try:
                return lead_services.lead_create(
                    actor=self.manager,
                    store=self.store,
                    name=name,
                    phone=phone,
                    source=source,
                    channel=rng.choice(self.channels)
                    if source == Source.WEB and self.channels
                    else None,
                    intended_model=rng.choice(self.models) if self.models else None,
                    level=rng.choice("HABBC"),
                    owner=agent,
                    received_at=self.now - received,
                )
            except lead_services.DuplicateLead:
                continue

    def _log(self, lead, when: datetime, result: str = "reached", *, latest=None, **fields):
        """A call made by the lead's owner at ``when`` moved into business
        hours (``dcc.demo.business_hours``, no later than ``latest`` or now),
        recorded by the manager."""
        when = business_hours(when, now=latest or self.now)
        return services.followup_log(
            actor=self.manager,
            agent=lead.owner,
            lead=lead,
            channel=fields.pop("channel", "call"),
            result=result,
            occurred_at=when,
            note=self.rng.choice(NOTES[result]),
            **fields,
        )

    def _book(self, agent, lead, scheduled_at: datetime) -> Appointment:
        """The agent books the visit (after inviting the customer on the phone)."""
        return services.appointment_book(
            actor=agent,
            lead=lead,
            scheduled_at=scheduled_at,
            receiver=self.rng.choice(self.receivers) if self.receivers else None,
        )

    def _invited_lead(self, agent, *, received: timedelta, invited: timedelta) -> Lead:
        lead = self._lead(agent, received=received)
        self._log(lead, lead.received_at + timedelta(minutes=8))
        self._log(lead, self.now - invited, "invited", purpose="test_drive")
        return lead

    def _into_past(self, appointment, scheduled_at: datetime, booked_at: datetime):
        """What no service may do: a visit booked days ago for a time now past.
        Its SMS went out then: the booking at once, the reminder the day before."""
        Appointment.objects.filter(pk=appointment.pk).update(
            scheduled_at=scheduled_at, created_at=booked_at
        )
        appointment.refresh_from_db()
        # The texts name the visit's time: planned again as at the booking,
        # so each message says when the customer really came (or did not).
        SmsMessage.objects.filter(appointment=appointment).delete()
        sms.plan_for_appointment(appointment, now=booked_at)
        reminder_at = sms.reminder_time(appointment.scheduled_at, store=appointment.store)
        for message in SmsMessage.objects.filter(appointment=appointment):
            sent_at = booked_at if message.kind != SmsKind.REMINDER_CUSTOMER else reminder_at
            self._sent(message, sent_at)
        return appointment

    def _sent(self, message, sent_at: datetime):
        SmsMessage.objects.filter(pk=message.pk).update(
            status=SmsStatus.SENT,
            send_after=sent_at,
            sent_at=sent_at,
            claimed_at=sent_at,
            attempts=1,
            backend="console",
            provider_id=f"console-{message.pk}",
        )

    # ---------------------------------------------------------------- 1. history

    def existing_history(self):
        """Calls on the leads ``leads.demo`` entered, oldest first. The
        freshest stay new; where the last call leaves the next one decides
        whether the lead is overdue, due today or later."""
        leads = Lead.objects.filter(
            store=self.store, owner__in=self.agents, status=Status.NEW
        ).order_by("received_at", "pk")
        for lead in leads:
            first = lead.received_at + self.rng.choice(FIRST_CONTACT_DELAYS)
            if first > self.now - timedelta(hours=3):
                continue
            when, calls = first, 1 + self.rng.randrange(3)
            for number in range(calls):
                gap = timedelta(days=self.rng.choice((1, 2, 3, 5)), hours=self.rng.randrange(6))
                last = number == calls - 1 or when + gap > self.now - timedelta(hours=3)
                result = "no_answer" if number == 0 and self.rng.random() < 0.2 else "reached"
                next_at = self._next_after_history() if last else None
                self._log(lead, when, result, next_followup_at=next_at)
                if last:
                    break
                when += gap

    def _next_after_history(self) -> datetime:
        roll = self.rng.random()
        if roll < 0.15:
            return self.now - timedelta(days=1 + self.rng.randrange(3), hours=2)
        return self.now + timedelta(days=1 + self.rng.randrange(10), hours=self.rng.randrange(8))

    # ---------------------------------------------------------------- 2. the queue

    def queue_sections(self, agent, index: int):
        now = self.now
        # New: a manufacturer lead 40-odd minutes from its 48-hour deadline, a
        # fresh one, a web lead (no deadline) and one past its deadline (a breach).
        self._lead(
            agent, source=Source.MANUFACTURER, received=timedelta(hours=47, minutes=20 - 5 * index)
        )
        self._lead(agent, source=Source.MANUFACTURER, received=timedelta(hours=5 + 3 * index))
        self._lead(agent, received=timedelta(minutes=20 + 10 * index))
        self._lead(agent, source=Source.MANUFACTURER, received=timedelta(days=4 + index))

        # Overdue: promised a call back a day or two ago.
        lead = self._lead(agent, received=timedelta(days=12, hours=index))
        self._log(lead, lead.received_at + timedelta(minutes=3))
        self._log(
            lead,
            lead.received_at + timedelta(days=4),
            next_followup_at=now - timedelta(days=1 + index % 2, hours=3),
        )

        # Due today: later today, or just before midnight if the day is nearly over.
        lead = self._lead(agent, source=Source.INBOUND, received=timedelta(days=9))
        self._log(lead, lead.received_at + timedelta(hours=2))
        due_today = min(
            now + timedelta(hours=1), self.today_start + timedelta(hours=23, minutes=50)
        )
        self._log(lead, lead.received_at + timedelta(days=7), next_followup_at=due_today)

        # Retry: reached once, not answering three hours ago (the store retries after two).
        lead = self._lead(agent, source=Source.INBOUND, received=timedelta(days=3))
        self._log(lead, lead.received_at + timedelta(minutes=30))
        latest = now - timedelta(hours=2, minutes=30)
        self._log(lead, now - timedelta(hours=3), "no_answer", latest=latest)

        # Confirm: a visit tomorrow, booked yesterday.
        lead = self._invited_lead(agent, received=timedelta(days=6), invited=timedelta(days=1))
        self._book(agent, lead, self._local(self.tomorrow, 10 + index, 30))

        # In three days: its day-before reminder waits in the outbox.
        lead = self._invited_lead(agent, received=timedelta(days=10), invited=timedelta(hours=4))
        self._book(agent, lead, self._local(self.tomorrow + timedelta(days=2), 15))

    # ---------------------------------------------------------------- visits

    def visits(self, agent, index: int):
        """A visit that happened (with a test drive), one that did not and one
        the customer called off."""
        now = self.now
        lead = self._invited_lead(agent, received=timedelta(days=20), invited=timedelta(days=9))
        appointment = self._book(agent, lead, now + timedelta(days=3))
        scheduled = self._local(timezone.localdate(now) - timedelta(days=6), 14)
        self._into_past(appointment, scheduled, booked_at=now - timedelta(days=9))
        services.appointment_arrive(
            actor=self.manager,
            appointment=appointment,
            arrived_at=scheduled + timedelta(minutes=12),
            test_drive=True,
            group_size=1 + index % 3,
        )
        self._log(lead, scheduled + timedelta(days=1, hours=2), purpose="test_drive")

        lead = self._invited_lead(agent, received=timedelta(days=15), invited=timedelta(days=5))
        appointment = self._book(agent, lead, now + timedelta(days=3))
        scheduled = self._local(timezone.localdate(now) - timedelta(days=3), 11)
        self._into_past(appointment, scheduled, booked_at=now - timedelta(days=5))
        services.appointment_no_show(actor=self.manager, appointment=appointment)
        Appointment.objects.filter(pk=appointment.pk).update(
            no_show_at=scheduled + timedelta(hours=3)
        )

        if index % 2 == 1:
            lead = self._invited_lead(agent, received=timedelta(days=7), invited=timedelta(days=2))
            appointment = self._book(agent, lead, self._local(self.tomorrow, 16))
            for message in SmsMessage.objects.filter(
                appointment=appointment, kind=SmsKind.BOOKING_CUSTOMER
            ):
                self._sent(message, now - timedelta(days=2))
            services.appointment_cancel(
                actor=agent, appointment=appointment, reason="客户临时出差，改期再约"
            )

    def first_agent_extras(self, agent):
        """A visit past its time that nobody marked (the grace check flags it)
        and a manufacturer lead not reached three times before its deadline
        (escalated to the supervisor)."""
        now = self.now
        lead = self._invited_lead(agent, received=timedelta(days=8), invited=timedelta(days=3))
        appointment = self._book(agent, lead, now + timedelta(days=3))
        past = business_hours(now - timedelta(hours=5), now=now - timedelta(hours=3))
        self._into_past(appointment, past, booked_at=now - timedelta(days=3))

        lead = self._lead(agent, source=Source.MANUFACTURER, received=timedelta(hours=30))
        for after in (timedelta(minutes=5), timedelta(hours=2), timedelta(hours=6)):
            self._log(lead, lead.received_at + after, "no_answer")

    def deals(self):
        """Deals over the weeks, each after the customer came to the store:
        invited, booked, arrived, then ordered a day or three later; half of
        them delivered since."""
        candidates = list(
            Lead.objects.filter(
                store=self.store,
                owner__in=self.agents,
                status=Status.ACTIVE,
                intended_model__isnull=False,
                received_at__lt=self.now - timedelta(days=6),
            ).order_by("received_at", "pk")
        )
        for number, lead in enumerate(candidates[:: max(1, len(candidates) // 12)][:12]):
            agent = lead.owner
            age = (self.now - lead.received_at).days
            visit_day = timezone.localdate(lead.received_at) + timedelta(
                days=self.rng.randint(1, max(1, min(age - 4, 10)))
            )
            scheduled = self._local(visit_day, self.rng.choice((10, 11, 14, 15, 16)))
            booked_at = business_hours(scheduled - timedelta(days=2), now=scheduled)
            booked_at = max(booked_at, lead.received_at + timedelta(minutes=30))
            self._log(lead, booked_at - timedelta(minutes=5), "invited", purpose="test_drive")
            appointment = self._book(agent, lead, self.now + timedelta(days=3))
            self._into_past(appointment, scheduled, booked_at=booked_at)
            services.appointment_arrive(
                actor=self.manager,
                appointment=appointment,
                arrived_at=scheduled + timedelta(minutes=self.rng.randint(0, 20)),
                test_drive=self.rng.random() < 0.7,
            )
            ordered_at = business_hours(
                scheduled + timedelta(days=self.rng.randint(1, 3), hours=1), now=self.now
            )
            lead_services.deal_record(
                actor=self.manager,
                lead=lead,
                vehicle_model=lead.intended_model,
                stage="order",
                deal_at=ordered_at,
            )
            if number % 2 == 0:
                delivered_at = business_hours(
                    ordered_at + timedelta(days=self.rng.randint(2, 7)), now=self.now
                )
                lead_services.deal_record(
                    actor=self.manager,
                    lead=lead,
                    vehicle_model=lead.intended_model,
                    stage="delivered",
                    deal_at=max(delivered_at, ordered_at + timedelta(hours=1)),
                )

    # ---------------------------------------------------------------- 3. the outbox

    def outbox_outcomes(self):
        """Booking messages still waiting went out at booking, except one the
        provider refused and one a worker died sending; reminders wait."""
        waiting = list(
            SmsMessage.objects.filter(store=self.store, status=SmsStatus.PENDING)
            .exclude(kind=SmsKind.REMINDER_CUSTOMER)
            .order_by("pk")
        )
        if len(waiting) >= 3:
            failed, uncertain, *waiting = waiting
            SmsMessage.objects.filter(pk=failed.pk).update(
                status=SmsStatus.FAILED,
                attempts=1,
                claimed_at=failed.send_after,
                backend="tencent",
                last_error=FAILED_ERROR,
            )
            SmsMessage.objects.filter(pk=uncertain.pk).update(
                status=SmsStatus.UNCERTAIN,
                attempts=1,
                claimed_at=uncertain.send_after,
                backend="tencent",
            )
        for message in waiting:
            self._sent(message, message.send_after)
