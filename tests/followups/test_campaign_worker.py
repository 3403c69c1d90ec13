"""A campaign SMS round through a real Celery worker on the configured broker
(Redis in CI) against the fake Tencent Cloud SMS server: exactly once per
member and round although the worker is killed mid-round and the round is
dispatched again (as the reminders' test_sms_worker.py does it)."""

import os
import signal
import time
from collections import Counter

import pytest
from django.utils import timezone

from followups.campaigns import services
from followups.campaigns.models import Campaign
from followups.campaigns.tasks import dispatch_round
from followups.models import SmsMessage, SmsStatus
from leads import owners
from tests.followups.fake_sms_server import FakeSmsServer, Reply
from tests.followups.test_sms_worker import _children, at_least, wait_until, worker_process

pytestmark = pytest.mark.django_db(transaction=True)
MEMBERS = 6


@pytest.fixture
def campaign(mike, envision, settings):
    settings.SMS_RATE_PER_SECOND = 0  # every slot now: the kill lands mid-round
    today = timezone.localdate()
    for index in range(MEMBERS):
        owners.owner_add(
            actor=mike,
            store=mike.store,
            name=f"车主{index}",
            phone=f"1390000200{index}",
            vehicle_model=envision,
            delivered_on=today.replace(year=today.year - 3),
        )
    segment = services.segment_save(actor=mike, store=mike.store, name="全部", filters={})
    return services.campaign_save(
        actor=mike,
        campaign=Campaign(
            store=mike.store,
            name="置换节",
            segment=segment,
            sms_template_id="2001",
            sms_params=["name"],
        ),
    )


@pytest.mark.postgres  # a worker in another process
def test_a_killed_worker_sends_each_member_once(mike, campaign, tmp_path):
    log_path = tmp_path / "worker.log"

    def log_tail():
        return log_path.read_text(errors="replace")[-3000:]

    # Two messages go at once; the provider holds the third long enough to
    # kill the worker while it waits for the answer.
    replies = (Reply.ok(), Reply.ok(), Reply.ok(delay=8))
    with FakeSmsServer(*replies) as fake, worker_process(fake, log_path) as process:
        round_ = services.campaign_launch(actor=mike, campaign=campaign)  # dispatched on commit
        wait_until(
            lambda: at_least(3, fake.requests) or process.poll() is not None,
            timeout=60,
            what="the round to reach its third message",
            details=log_tail,
        )
        assert process.poll() is None, log_tail()
        children = _children(process.pid)
        assert len(children) == 1, f"expected one pool process, found {children}\n{log_tail()}"
        os.kill(children[0], signal.SIGKILL)

        # acks_late + reject_on_worker_lost: the batch task comes back to a
        # new pool process, which sends what is still pending and skips the
        # message the killed one had claimed.
        batch = services.batch_name(round_)
        wait_until(
            lambda: (
                SmsMessage.objects.filter(batch=batch, status=SmsStatus.SENT).count() == MEMBERS - 1
            ),
            timeout=60,
            what="the rest of the round",
            details=log_tail,
        )
        # Dispatching the round again (a restart, a second click) sends nothing.
        dispatch_round.delay(round_.pk)
        services.round_dispatch(round_.pk)
        time.sleep(3)

    keys = Counter(r["json"]["SessionContext"] for r in fake.requests)
    assert len(fake.requests) == MEMBERS, keys
    assert set(keys.values()) == {1}
    expected = {
        f"campaign:{campaign.pk}:round:1:member:{pk}"
        for pk in campaign.members.values_list("pk", flat=True)
    }
    assert set(keys) == expected
    statuses = Counter(SmsMessage.objects.filter(batch=batch).values_list("status", flat=True))
    # The one in flight when the worker died stays "sending" for a person
    # (uncertain after a while): never resent by itself.
    assert statuses == {SmsStatus.SENT: MEMBERS - 1, SmsStatus.SENDING: 1}
    assert all(r["json"]["TemplateId"] == "2001" for r in fake.requests)
    assert {r["json"]["SignName"] for r in fake.requests} == {mike.store.name}
