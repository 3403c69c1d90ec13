"""A supervisor plays a call recording in Chromium, seeks in it and scores
it on the checklist; the agent then reads the review under "My reviews"."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from telephony import reviews
from telephony.models import Playback, Review
from tests.telephony.recording_helpers import add, use_media, wav_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AUDIO = "document.getElementById('recording-audio')"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    return use_media(settings, tmp_path)


def test_supervisor_plays_seeks_and_scores_then_the_agent_reads_it(
    alice, sue, mike, login, live_server, page
):
    recording = add(
        mike,
        mike.store,
        "alice-call.wav",
        wav_bytes(8),
        started_at=timezone.now() - timedelta(hours=1),
        direction="inbound",
        extension=alice.extension,
        external_number="13812345678",
    ).recording
    items = reviews.checklist_for(mike.store)

    page = login("sue")
    page.goto(f"{live_server.url}{reverse('telephony:reviews')}")
    page.get_by_test_id("open-recording").click()
    expect(page.get_by_test_id("recording-agent")).to_contain_text(alice.display_name)
    page.evaluate("window.__sameDocument = true")

    # The browser reads the length from the file's header and may seek
    # anywhere in it: the server answers byte ranges.
    # Predicates as functions: a string would be eval'ed, which the CSP refuses.
    page.wait_for_function(f"() => {AUDIO}.readyState >= 1 && {AUDIO}.duration > 7.9")
    assert page.evaluate(f"{AUDIO}.seekable.length === 1 && {AUDIO}.seekable.end(0) > 7.9")

    # 1. Play (the player's own button, at its left end) until a second has passed.
    page.evaluate(f"{AUDIO}.addEventListener('playing', () => window.__playing = true)")
    box = page.get_by_test_id("audio").bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + box["height"] / 2)
    page.wait_for_function("() => window.__playing === true")
    page.wait_for_function(f"() => {AUDIO}.currentTime > 1")
    plays = Playback.objects.filter(recording=recording, user=sue, action="play")
    assert plays.count() == 1
    assert plays.get().via == "web"

    # 2. Seek forward 5 s: the position jumps, no new play is logged.
    before = page.evaluate(f"{AUDIO}.currentTime")
    page.get_by_test_id("seek-forward").click()
    page.wait_for_function(f"() => {AUDIO}.currentTime >= {before + 4.5}")
    assert plays.count() == 1

    # 3. Score: full marks but 5 points off the greeting, a comment; the
    # total adds up as it is typed.
    page.get_by_test_id("fill-max").click()
    expect(page.get_by_test_id("live-total")).to_have_text("100")
    greeting = page.locator(f'input[name="item_{items[0].pk}"]')
    greeting.fill(str(items[0].points - 5))
    expect(page.get_by_test_id("live-total")).to_have_text("95")
    page.locator(f'input[name="note_{items[0].pk}"]').fill("没有报自己的名字")
    page.locator('textarea[name="comment"]').fill("邀约很积极,开场要报店名和姓名")
    page.get_by_test_id("save-review").click()

    review = page.get_by_test_id("review")
    expect(review).to_have_count(1)
    expect(review.get_by_test_id("review-score")).to_have_text("95 / 100 · 95.00%")
    expect(page.get_by_test_id("message")).to_be_visible()
    # Saved in place: same page, the player was not reloaded.
    assert page.evaluate("window.__sameDocument") is True
    assert page.evaluate(f"{AUDIO}.currentTime") > before + 4.5
    saved = Review.objects.get()
    assert (saved.reviewer, saved.agent, saved.total) == (sue, alice, 95)
    assert plays.count() == 1

    # 4. Alice reads it under "My reviews".
    page = login("alice")
    page.locator(f"a[href='{reverse('telephony:my-reviews')}']").click()
    mine = page.get_by_test_id("my-review")
    expect(mine).to_have_count(1)
    expect(mine.get_by_test_id("my-review-score")).to_have_text("95 / 100 · 95.00%")
    expect(mine.get_by_test_id("my-review-comment")).to_contain_text("开场要报店名和姓名")
    expect(mine).to_contain_text("没有报自己的名字")
    expect(page.get_by_test_id("my-average")).to_contain_text("95.00%")
