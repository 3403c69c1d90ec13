"""Campaign and owner pages, the API and the provider callbacks (issue 18):
who sees what, the live count, launch, replies and receipts in Tencent
Cloud SMS's documented shapes."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dcc.roles import Role
from followups import sms
from followups.campaigns import services
from followups.campaigns.models import Campaign, CampaignMember
from followups.models import DeliveryStatus, SmsMessage, SmsReply, SmsStatus
from leads import owners
from leads.models import OptOut
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

TOKEN = "cb-secret-123"


@pytest.fixture
def aftersales(store_a):
    return StaffFactory(username="amy", role=Role.AFTERSALES, store=store_a)


@pytest.fixture
def base(mike, envision):
    today = timezone.localdate()
    vehicles = []
    for index in range(4):
        vehicles.append(
            owners.owner_add(
                actor=mike,
                store=mike.store,
                name=f"车主{index}",
                phone=f"1390000100{index}",
                vehicle_model=envision,
                delivered_on=today.replace(year=today.year - 2 - index),
            )
        )
    return vehicles


@pytest.fixture
def launched(base, mike, settings):
    settings.SMS_RATE_PER_SECOND = 0
    segment = services.segment_save(actor=mike, store=mike.store, name="全部", filters={})
    campaign = services.campaign_save(
        actor=mike,
        campaign=Campaign(
            store=mike.store,
            name="置换节",
            segment=segment,
            sms_template_id="2001",
            sms_params=["name", "store"],
        ),
    )
    round_ = services.campaign_launch(actor=mike, campaign=campaign)
    sms.send_batch(services.batch_name(round_))
    return campaign


# ---------------------------------------------------------------- pages


def test_manager_builds_a_segment_with_a_live_count(web, mike, base):
    client = web(mike)
    page = client.get(reverse("campaigns:segment-new"))
    assert page.status_code == 200
    count = client.get(reverse("campaigns:segment-count"), {"vehicle_age_min": 4})
    assert count.status_code == 200
    assert 'data-testid="segment-count">2<' in count.content.decode()
    saved = client.post(
        reverse("campaigns:segment-new"), {"name": "四年以上", "vehicle_age_min": 4}
    )
    assert saved.status_code == 302
    assert mike.store.pk == services.Segment.objects.get(name="四年以上").store_id


def test_roles_reach_only_their_pages(web, alice, aftersales, mike, mary, launched):
    assert web(alice).get(reverse("campaigns:list")).status_code == 403
    assert web(aftersales).get(reverse("campaigns:list")).status_code == 403
    assert web(aftersales).get(reverse("leads:owners")).status_code == 200
    assert web(mike).get(reverse("campaigns:detail", args=[launched.pk])).status_code == 200
    # Another store's manager: the campaign does not exist for them.
    assert web(mary).get(reverse("campaigns:detail", args=[launched.pk])).status_code == 404
    member = launched.members.first()
    url = reverse("campaigns:member", args=[launched.pk, member.pk])
    assert web(mary).get(url).status_code == 404
    assert web(alice).get(reverse("leads:owners")).status_code == 403


def test_owner_list_is_the_store_s_for_after_sales_and_pins_queries(
    web, aftersales, mary, base, django_assert_max_num_queries
):
    client = web(aftersales)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("leads:owners"))
    assert page.content.decode().count('data-testid="owner-row"') == 4
    other = web(mary).get(reverse("leads:owners"))
    assert other.content.decode().count('data-testid="owner-row"') == 0


def test_after_sales_flags_an_owner(web, aftersales, base):
    customer = base[0].customer
    response = web(aftersales).post(
        reverse("leads:owner-flag", args=[customer.pk]), {"kind": "recommend", "note": "想换车"}
    )
    assert response.status_code == 302
    assert customer.owner_flags.get().created_by == aftersales


def test_campaign_pages_pin_their_queries(web, mike, launched, django_assert_max_num_queries):
    client = web(mike)
    with django_assert_max_num_queries(25):
        response = client.get(reverse("campaigns:detail", args=[launched.pk]))
    assert response.content.decode().count('data-testid="member-row"') == 4
    with django_assert_max_num_queries(15):
        assert client.get(reverse("campaigns:list")).status_code == 200


# ---------------------------------------------------------------- API


def test_api_campaigns_rounds_members_and_scope(api, mike, mary, alice, launched):
    client = api(mike)
    listing = client.get("/api/v1/campaigns/")
    assert listing.status_code == 200
    assert [c["id"] for c in listing.json()["results"]] == [launched.pk]
    members = client.get(f"/api/v1/campaigns/{launched.pk}/members/").json()
    assert members["count"] == 4
    assert {m["sms_status"] for m in members["results"]} == {"sent"}
    rounds = client.get(f"/api/v1/campaigns/{launched.pk}/rounds/").json()
    assert [r["number"] for r in rounds] == [1]
    second = client.post(f"/api/v1/campaigns/{launched.pk}/rounds/")
    assert second.status_code == 201
    assert second.json()["planned_count"] == 4
    assert api(mary).get(f"/api/v1/campaigns/{launched.pk}/").status_code == 404
    member = members["results"][0]["id"]
    assert api(mary).get(f"/api/v1/campaign-members/{member}/").status_code == 404
    assert api(alice).get("/api/v1/campaigns/").status_code == 403
    assert api(alice).post(f"/api/v1/campaigns/{launched.pk}/rounds/").status_code == 403


def test_api_campaign_list_counts_members_in_its_own_query(api, mike, launched):
    client = api(mike)
    client.get("/api/v1/campaigns/")  # warm the session and the throttle
    one = _queries(client, "/api/v1/campaigns/")
    for index in range(3):
        services.campaign_save(actor=mike, campaign=Campaign(store=mike.store, name=f"活动{index}"))
    assert _queries(client, "/api/v1/campaigns/") == one
    listing = client.get("/api/v1/campaigns/").json()
    counts = {c["id"]: c["member_count"] for c in listing["results"]}
    assert counts[launched.pk] == 4
    assert sorted(counts.values()) == [0, 0, 0, 4]


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_api_creates_and_launches_a_campaign(api, mike, base, settings):
    settings.SMS_RATE_PER_SECOND = 0
    client = api(mike)
    segment = client.post(
        "/api/v1/segments/", {"name": "老车", "filters": {"vehicle_age_min": 4}}, format="json"
    )
    assert segment.status_code == 201
    assert segment.json()["count"] == 2
    created = client.post(
        "/api/v1/campaigns/",
        {
            "name": "API 活动",
            "segment": segment.json()["id"],
            "sms_template_id": "3001",
            "sms_params": ["name", "model"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    bad = client.post(
        "/api/v1/campaigns/", {"name": "x", "sms_params": ["free text"]}, format="json"
    )
    assert bad.status_code == 400
    launched = client.post(f"/api/v1/campaigns/{created.json()['id']}/launch/")
    assert launched.status_code == 200
    assert launched.json()["planned_count"] == 2
    again = client.post(f"/api/v1/campaigns/{created.json()['id']}/launch/")
    assert again.status_code == 400


# ---------------------------------------------------------------- callbacks


def reply_push(mobile, text, when):
    """Tencent Cloud SMS reply push (API 382/5809), exactly its documented fields."""
    return {
        "extend": "",
        "mobile": mobile,
        "nationcode": "86",
        "sign": "浦东店",
        "text": text,
        "time": int(when.timestamp()),
    }


def status_report(message, *, ok=True):
    """Tencent Cloud SMS status report (API 382/5807): a list of receipts."""
    return [
        {
            "user_receive_time": timezone.localtime().strftime("%Y-%m-%d %H:%M:%S"),
            "nationcode": "86",
            "mobile": message.phone.removeprefix("+86"),
            "report_status": "SUCCESS" if ok else "FAIL",
            "errmsg": "DELIVRD" if ok else "MK:0001",
            "description": "用户短信送达成功" if ok else "空号",
            "sid": message.provider_id,
        }
    ]


def post(client, kind, body, token=TOKEN):
    url = reverse(f"followups:sms-{kind}-callback", args=[token])
    return client.post(
        url, data=json.dumps(body, ensure_ascii=False), content_type="application/json"
    )


def test_a_reply_shows_on_the_member_and_td_opts_out_of_every_campaign(
    client, settings, mike, web, launched
):
    settings.SMS_CALLBACK_TOKEN = TOKEN
    member = launched.members.order_by("pk").first()
    later = timezone.now() + timedelta(minutes=5)
    assert post(client, "reply", reply_push("13900001000", "我想了解一下", later)).json() == {
        "result": 0,
        "errmsg": "OK",
    }
    # The same push twice is one reply.
    post(client, "reply", reply_push("13900001000", "我想了解一下", later))
    assert SmsReply.objects.count() == 1
    member.refresh_from_db()
    assert member.reply_text == "我想了解一下"
    assert member.opted_out_at is None
    page = web(mike).get(reverse("campaigns:member", args=[launched.pk, member.pk]))
    assert "我想了解一下" in page.content.decode()

    post(client, "reply", reply_push("13900001000", "TD", later + timedelta(minutes=1)))
    member.refresh_from_db()
    assert member.opted_out_at is not None
    assert OptOut.objects.filter(store=mike.store, phone=member.phone, reason="reply").exists()
    # A new round leaves the number out.
    second = services.round_plan(actor=mike, campaign=launched)
    assert (second.planned_count, second.skipped_count) == (3, 1)
    # …and so does every later campaign of the store.
    segment = services.segment_save(actor=mike, store=mike.store, name="再来", filters={})
    from followups.campaigns.segments import customers

    assert member.customer_id not in set(
        customers(mike.store, segment.filters).values_list("pk", flat=True)
    )


def test_unsubscribe_in_chinese(client, settings, launched):
    settings.SMS_CALLBACK_TOKEN = TOKEN
    member = launched.members.order_by("pk").last()
    post(client, "reply", reply_push(member.phone.removeprefix("+86"), "退订", timezone.now()))
    member.refresh_from_db()
    assert member.opted_out_at is not None


def test_delivery_receipts(client, settings, launched):
    settings.SMS_CALLBACK_TOKEN = TOKEN
    first, second = SmsMessage.objects.filter(status=SmsStatus.SENT).order_by("pk")[:2]
    body = status_report(first) + status_report(second, ok=False)
    assert post(client, "status", body).status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.delivery_status == DeliveryStatus.DELIVERED
    assert first.delivered_at is not None
    assert second.delivery_status == DeliveryStatus.FAILED
    assert "MK:0001" in second.delivery_error


def test_callbacks_need_the_token_and_the_documented_shape(client, settings, launched):
    settings.SMS_CALLBACK_TOKEN = TOKEN
    assert (
        post(
            client, "reply", reply_push("13900001000", "hi", timezone.now()), token="nope"
        ).status_code
        == 404
    )
    assert post(client, "status", [{"mobile": "1"}]).status_code == 400
    assert post(client, "reply", {"text": "no number"}).status_code == 400
    settings.SMS_CALLBACK_TOKEN = ""
    assert (
        post(
            client, "reply", reply_push("13900001000", "hi", timezone.now()), token="x"
        ).status_code
        == 404
    )
    assert CampaignMember.objects.filter(replied_at__isnull=False).count() == 0
