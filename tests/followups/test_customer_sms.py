"""Issue 13, point 6: booking and reminder texts read as messages to a
customer. The visit is named by what the customer comes for (看车, 试乘试驾,
参加活动, 提车 …), never by the staff's purpose ("其他", "邀约试驾"); the
booking form shows the exact text before saving."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from dcc.timeutils import local_day_start
from followups import services, sms
from followups.models import Appointment, SmsMessage, VisitType
from tests.desk.helpers import HX

pytestmark = pytest.mark.django_db

STAFF_WORDS = ("其他", "其它", "邀约试驾", "邀请", "Invite", "Other", "Purpose")


def _at(days=3, hour=15):
    return local_day_start(timezone.localdate() + timedelta(days=days)) + timedelta(hours=hour)


def _texts(appointment):
    return {m.kind: sms.preview(m) for m in SmsMessage.objects.filter(appointment=appointment)}


@pytest.mark.parametrize(
    ("visit_type", "words"),
    [
        (VisitType.VIEWING, "看车"),
        (VisitType.TEST_DRIVE, "试乘试驾"),
        (VisitType.EVENT, "参加活动"),
        (VisitType.DELIVERY, "提车"),
    ],
)
def test_customer_texts_name_the_visit_as_the_customer_says_it(
    alice, connie, make_lead, store_a, visit_type, words
):
    connie.mobile = "+8613911112222"
    connie.save()
    lead = make_lead(alice, name="王小明")
    with override("en"):  # the staff's language never leaks into a customer's SMS
        appointment = services.appointment_book(
            actor=alice,
            lead=lead,
            scheduled_at=_at(),
            purpose="other",
            visit_type=visit_type,
            receiver=connie,
        )
    texts = _texts(appointment)
    when = timezone.localtime(appointment.scheduled_at).strftime("%-m月%-d日 %H:%M")
    assert texts["booking_customer"] == (
        f"【{store_a.name}】王小明您好，您已预约{when}到{store_a.name}{words}，我们恭候您的光临。"
    )
    assert texts["reminder_customer"] == (
        f"【{store_a.name}】王小明您好，温馨提醒：您预约了{when}到{store_a.name}{words}，"
        "期待您的光临。"
    )
    assert words in texts["booking_receiver"]
    for text in texts.values():
        assert not any(word in text for word in STAFF_WORDS), text


def test_without_a_visit_type_the_purpose_picks_a_customer_word(alice, make_lead):
    other = services.appointment_book(
        actor=alice, lead=make_lead(alice), scheduled_at=_at(), purpose="other"
    )
    drive = services.appointment_book(
        actor=alice, lead=make_lead(alice), scheduled_at=_at(), purpose="test_drive"
    )
    assert (other.visit_type, drive.visit_type) == ("viewing", "test_drive")
    assert "看车" in _texts(other)["booking_customer"]
    assert "试乘试驾" in _texts(drive)["booking_customer"]


def test_an_old_outbox_row_with_fewer_parameters_still_reads(alice, make_lead):
    appointment = services.appointment_book(actor=alice, lead=make_lead(alice), scheduled_at=_at())
    reminder = SmsMessage.objects.get(appointment=appointment, kind="reminder_customer")
    reminder.params = reminder.params[:3]
    assert sms.preview(reminder).endswith("期待您的光临。")


def test_the_booking_form_previews_the_exact_text(web, alice, bob, make_lead):
    lead = make_lead(alice, name="王小明")
    # The booking tab's form, as the lead page fetches it when the tab is opened.
    page = web(alice).get(reverse("desk:lead-action", args=[lead.pk, "book"]), **HX)
    page = page.content.decode()
    preview_url = reverse("desk:lead-sms-preview", args=[lead.pk])
    assert f'hx-get="{preview_url}"' in page
    assert 'data-testid="sms-preview"' in page
    when = _at(2, 10)
    data = {
        "book-scheduled_at": timezone.localtime(when).strftime("%Y-%m-%dT%H:%M"),
        "book-visit_type": "event",
        "book-purpose": "other",
    }
    response = web(alice).get(preview_url, data, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "参加活动" in html
    assert "其他" not in html
    # What the preview showed is what the outbox sends.
    web(alice).post(reverse("desk:lead-action", args=[lead.pk, "book"]), data, **HX)
    appointment = Appointment.objects.get(lead=lead)
    assert appointment.visit_type == "event"
    assert _texts(appointment)["booking_customer"] in html
    # Without a time there is nothing to show yet; another agent's lead is 404.
    empty = web(alice).get(preview_url, {"book-visit_type": "event"}, **HX).content.decode()
    assert "参加活动" not in empty
    assert web(bob).get(preview_url, data, **HX).status_code == 404


def test_the_api_books_with_a_visit_type(api, alice, make_lead):
    lead = make_lead(alice)
    response = api(alice).post(
        f"/api/v1/leads/{lead.pk}/appointments/",
        {"scheduled_at": _at().isoformat(), "purpose": "other", "visit_type": "delivery"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["visit_type"] == "delivery"
    bad = api(alice).post(
        f"/api/v1/leads/{make_lead(alice).pk}/appointments/",
        {"scheduled_at": _at().isoformat(), "visit_type": "其他"},
        format="json",
    )
    assert bad.status_code == 400
