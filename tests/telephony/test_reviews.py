"""Quality review: the store's checklist (default on first use, edited,
retired items), scoring arithmetic, who may score and who sees what, the
review list's filters and query count, "My reviews", the average for the
scorecard, and the lead page's calls with their players."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from dcc.models import User
from dcc.roles import Role
from telephony import reviews
from telephony.models import Playback, Review, ReviewItem
from tests.telephony.recording_helpers import (
    SHANGHAI,
    add,
    at,
    import_sample_calls,
    use_media,
    wav_bytes,
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    return use_media(settings, tmp_path)


_tones = iter(range(200, 5000, 7))


def recording_of(agent, *, when=None, lead=None, direction="inbound"):
    """A recording of ``agent``'s call (on ``lead``'s number if given),
    added by a supervisor or manager of the store."""
    importer = User.objects.filter(
        store=agent.store, role__in=[Role.SUPERVISOR, Role.MANAGER]
    ).first()
    extra = {"external_number": lead.phone} if lead is not None else {}
    return add(
        importer,
        agent.store,
        f"{agent.username}.wav",
        wav_bytes(1, tone=next(_tones)),
        started_at=when or at(9),
        direction=direction,
        extension=agent.extension,
        **extra,
    ).recording


def full_scores(items, minus=0):
    scores = {item.pk: item.points for item in items}
    first = items[0]
    scores[first.pk] = max(0, first.points - minus)
    return scores


# ---------------------------------------------------------------- checklist


def test_a_store_gets_the_default_checklist_once(store_a, store_b):
    items = reviews.checklist_for(store_a)
    assert len(items) == 6
    assert sum(item.points for item in items) == 100
    assert [item.order for item in items] == sorted(item.order for item in items)
    # Written in the site's language (zh-hans) whoever asks first.
    assert all(item.label for item in items)
    assert reviews.checklist_for(store_a) == items
    assert ReviewItem.objects.filter(store=store_a).count() == 6
    assert ReviewItem.objects.filter(store=store_b).count() == 0


def test_checklist_items_are_added_edited_and_retired(sue, mike, alice, mary, store_a):
    item = reviews.item_add(actor=sue, store=store_a, label="产品卖点", points=10)
    assert len(reviews.checklist_for(store_a)) == 7  # the defaults came first
    assert item.order > max(i.order for i in reviews.checklist_for(store_a) if i != item)
    reviews.item_update(actor=mike, item=item, points=5, label="卖点")
    item.refresh_from_db()
    assert (item.label, item.points) == ("卖点", 5)
    assert item.history.count() == 2
    reviews.item_set_active(actor=sue, item=item, active=False)
    assert item not in reviews.checklist_for(store_a)
    assert item in reviews.checklist_for(store_a, active_only=False)
    with pytest.raises(PermissionDenied):
        reviews.item_add(actor=alice, store=store_a, label="x", points=5)
    with pytest.raises(PermissionDenied):
        reviews.item_update(actor=mary, item=item, points=6)
    with pytest.raises(ValidationError):
        reviews.item_update(actor=sue, item=item, points=0)


def test_checklist_page(web, sue, alice, mary, store_a):
    client = web(sue)
    url = reverse("telephony:checklist")
    page = client.get(url)
    assert page.status_code == 200
    assert page.content.decode().count('data-testid="checklist-item"') == 6
    assert 'data-testid="active-points">100<' in page.content.decode()
    response = client.post(url, {"new-label": "报价规范", "new-hint": "", "new-points": 10})
    assert response.status_code == 302
    item = ReviewItem.objects.get(label="报价规范")
    edit = reverse("telephony:checklist-item", args=[item.pk])
    assert client.get(edit).status_code == 200
    response = client.post(edit, {"label": "报价", "hint": "", "points": 8, "order": 5})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.label, item.points, item.order) == ("报价", 8, 5)
    retire = reverse("telephony:checklist-item-active", args=[item.pk])
    client.post(retire, {"active": "0"})
    item.refresh_from_db()
    assert not item.is_active
    assert web(alice).get(url).status_code == 403
    # Another store's item: 404, like one that does not exist.
    assert web(mary).get(edit).status_code == 404
    assert web(mary).post(retire, {"active": "1"}).status_code == 404


# ---------------------------------------------------------------- scoring


def test_scores_total_and_percent(sue, alice, store_a):
    recording = recording_of(alice)
    items = reviews.checklist_for(store_a)
    review = reviews.review_save(
        actor=sue,
        recording=recording,
        scores=full_scores(items, minus=5),
        notes={items[0].pk: "没报工号"},
        comment="整体不错",
    )
    assert review.total == 95
    assert review.max_total == 100
    assert review.percent == Decimal("95.00")
    assert review.agent == alice
    assert review.store == store_a
    assert review.scores[0] == {
        "item": items[0].pk,
        "label": items[0].label,
        "points": items[0].points,
        "score": items[0].points - 5,
        "note": "没报工号",
    }


def test_percent_of_a_checklist_not_worth_100(sue, alice, store_a):
    for n in range(3):
        ReviewItem.objects.create(store=store_a, label=f"项{n}", points=7, order=n)
    items = reviews.checklist_for(store_a)
    review = reviews.review_save(
        actor=sue, recording=recording_of(alice), scores=full_scores(items, minus=1)
    )
    assert (review.total, review.max_total) == (20, 21)
    assert review.percent == Decimal("95.24")


def test_scoring_again_updates_the_review_and_keeps_its_history(sue, mike, alice, store_a):
    recording = recording_of(alice)
    items = reviews.checklist_for(store_a)
    first = reviews.review_save(actor=sue, recording=recording, scores=full_scores(items, 10))
    second = reviews.review_save(actor=sue, recording=recording, scores=full_scores(items, 2))
    assert second.pk == first.pk
    assert second.total == 98
    assert Review.objects.count() == 1
    assert [row.total for row in second.history.order_by("history_date")] == [90, 98]
    # The manager's review is a review of its own.
    reviews.review_save(actor=mike, recording=recording, scores=full_scores(items))
    assert Review.objects.count() == 2


def test_a_review_scores_every_item_within_its_points(sue, alice, store_a):
    recording = recording_of(alice)
    items = reviews.checklist_for(store_a)
    scores = full_scores(items)
    del scores[items[1].pk]
    scores[items[2].pk] = items[2].points + 1
    with pytest.raises(ValidationError) as refused:
        reviews.review_save(actor=sue, recording=recording, scores=scores)
    assert set(refused.value.message_dict) == {f"item_{items[1].pk}", f"item_{items[2].pk}"}


def test_who_may_score(sue, alice, bob, carol, mary, store_a, make_lead, mike):
    items = reviews.checklist_for(store_a)
    bobs = recording_of(bob)
    with pytest.raises(PermissionDenied):  # an agent does not score
        reviews.review_save(actor=alice, recording=bobs, scores=full_scores(items))
    with pytest.raises(PermissionDenied):  # another store
        reviews.review_save(actor=mary, recording=bobs, scores=full_scores(items))
    with pytest.raises(PermissionDenied):  # another team's call
        reviews.review_save(actor=sue, recording=recording_of(carol), scores=full_scores(items))
    # Nobody scores their own call: a supervisor's own (on a lead of their own).
    lead = make_lead(mike, phone="13812340000", owner=sue, received_at=at(8))
    sues = add(
        mike, store_a, "sue.wav", wav_bytes(1, tone=4321), started_at=at(9),
        direction="inbound", external_number=lead.phone,
    ).recording  # fmt: skip
    sues.agent = sue
    sues.save()
    with translation.override("en"), pytest.raises(ValidationError, match="own call"):
        reviews.review_save(actor=sue, recording=sues, scores=full_scores(items))


# ---------------------------------------------------------------- pages


def test_review_page_scores_and_shows_reviews_and_the_play_log(web, sue, alice, store_a):
    recording = recording_of(alice)
    url = reverse("telephony:recording", args=[recording.pk])
    client = web(sue)
    page = client.get(url).content.decode()
    assert 'preload="metadata"' in page
    assert reverse("telephony:recording-audio", args=[recording.pk]) in page
    assert page.count('data-testid="checklist-row"') == 6
    items = reviews.checklist_for(store_a)
    data = {f"item_{item.pk}": item.points for item in items}
    data[f"item_{items[0].pk}"] = 0
    data[f"note_{items[0].pk}"] = "没有报店名"
    data["comment"] = "开场要改进"
    response = client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="review-panel"' in html
    assert "<html" not in html  # the panel only: the player keeps playing
    review = Review.objects.get()
    assert review.total == 100 - items[0].points
    assert f"{review.total} / 100" in html
    assert "开场要改进" in html
    # Without htmx: back to the page.
    assert client.post(url, data).status_code == 302
    Playback.objects.create(recording=recording, user=sue, action="play")
    page = client.get(url).content.decode()
    assert 'data-testid="playback"' in page


def test_review_page_refuses_bad_scores_inline(web, sue, alice, store_a):
    recording = recording_of(alice)
    url = reverse("telephony:recording", args=[recording.pk])
    items = reviews.checklist_for(store_a)
    data = {f"item_{item.pk}": item.points for item in items}
    data[f"item_{items[0].pk}"] = items[0].points + 5
    response = web(sue).post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'data-testid="score-error"' in response.content.decode()
    assert Review.objects.count() == 0


def test_an_agent_listens_to_their_call_but_does_not_score(web, alice, bob, sue, store_a):
    recording = recording_of(alice)
    items = reviews.checklist_for(store_a)
    reviews.review_save(actor=sue, recording=recording, scores=full_scores(items))
    url = reverse("telephony:recording", args=[recording.pk])
    page = web(alice).get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="review-form"' not in html
    assert 'data-testid="review"' in html  # sue's review of alice's call
    assert 'data-testid="playbacks"' not in html
    assert web(alice).post(url, {}).status_code == 403
    assert web(bob).get(url).status_code == 404


def test_my_reviews_shows_only_mine_with_the_average(web, sue, alice, bob, carol, store_a):
    items = reviews.checklist_for(store_a)
    for minus in (0, 10):
        reviews.review_save(
            actor=sue,
            recording=recording_of(alice),
            scores=full_scores(items, minus),
            comment=f"alice −{minus}",
        )
    reviews.review_save(
        actor=sue, recording=recording_of(bob), scores=full_scores(items, 15), comment="bob"
    )
    html = web(alice).get(reverse("telephony:my-reviews")).content.decode()
    assert html.count('data-testid="my-review"') == 2
    assert "alice −10" in html
    assert "bob" not in html.split('data-testid="page-title"')[1]
    assert "95.00%" in html  # (100 + 90) / 2
    empty = web(User.objects.get(username="carol")).get(reverse("telephony:my-reviews"))
    assert 'data-testid="no-reviews"' in empty.content.decode()


def test_the_review_list_is_for_supervisors_and_managers(web, everyone):
    url = reverse("telephony:reviews")
    for username, expected in [
        ("alice", 403),
        ("carol", 403),
        ("connie", 403),
        ("sue", 200),
        ("mike", 200),
        ("root", 200),
    ]:
        assert web(everyone[username]).get(url).status_code == expected, username


def _row_ids(response) -> list[int]:
    html = response.content.decode()
    return [
        int(chunk.split('"', 1)[0])
        for chunk in html.split('data-testid="recording-row" data-recording-id="')[1:]
    ]


def test_review_list_scope_filters_and_order(web, sue, mike, alice, bob, carol, make_lead):
    lead = make_lead(mike, phone="13812345678", owner=alice, received_at=at(8))
    first = recording_of(alice, when=at(9), lead=lead)
    second = recording_of(bob, when=at(11), direction="outbound")
    carols = recording_of(carol, when=at(10))
    items = reviews.checklist_for(alice.store)
    reviews.review_save(actor=sue, recording=first, scores=full_scores(items))
    url = reverse("telephony:reviews")
    client = web(sue)
    assert _row_ids(client.get(url)) == [second.pk, first.pk]  # newest first; team only
    assert _row_ids(client.get(url, {"agent": alice.pk})) == [first.pk]
    assert _row_ids(client.get(url, {"reviewed": "yes"})) == [first.pk]
    assert _row_ids(client.get(url, {"reviewed": "no"})) == [second.pk]
    assert _row_ids(client.get(url, {"direction": "outbound"})) == [second.pk]
    assert _row_ids(client.get(url, {"lead": lead.pk})) == [first.pk]
    assert _row_ids(client.get(url, {"start": "2024-01-16"})) == []
    assert _row_ids(client.get(url, {"start": "2024-01-15", "end": "2024-01-15"})) == [
        second.pk,
        first.pk,
    ]
    html = client.get(url).content.decode()
    assert 'data-testid="review-mean">100.0%' in html
    assert _row_ids(web(mike).get(url)) == [second.pk, carols.pk, first.pk]  # the store


def test_review_list_query_count_does_not_grow(
    web, sue, alice, bob, store_a, django_assert_max_num_queries
):
    client = web(sue)
    url = reverse("telephony:reviews")
    items = reviews.checklist_for(store_a)
    recording = recording_of(alice)
    reviews.review_save(actor=sue, recording=recording, scores=full_scores(items))
    # Session, user, 2 layout badges, the agent filter's choices, count, page.
    with django_assert_max_num_queries(8):
        assert len(_row_ids(client.get(url))) == 1
    for n in range(30):
        rec = recording_of(bob if n % 2 else alice, when=at(9) + timedelta(minutes=n + 1))
        reviews.review_save(actor=sue, recording=rec, scores=full_scores(items, n % 5))
    with django_assert_max_num_queries(8):
        assert len(_row_ids(client.get(url))) == 31


# ---------------------------------------------------------------- scorecard


def test_average_review_percent_by_agent_team_store_and_period(
    sue, mike, alice, bob, carol, store_a
):
    items = reviews.checklist_for(store_a)
    for agent, minus in ((alice, 0), (alice, 10), (bob, 5), (carol, 15)):
        reviews.review_save(
            actor=mike, recording=recording_of(agent), scores=full_scores(items, minus)
        )
    now = timezone.now()
    period = {"since": now - timedelta(days=1), "until": now + timedelta(days=1)}
    average = reviews.average_review_percent
    assert average(agent_ids=[alice.pk], **period) == Decimal("95.00")
    assert average(agent_ids=[alice.pk, bob.pk], **period) == Decimal("95.00")
    assert average(team_id=carol.team_id, **period) == Decimal("85.00")
    assert average(store_id=store_a.pk, **period) == Decimal("92.50")
    earlier = {"since": now - timedelta(days=30), "until": now - timedelta(days=1)}
    assert reviews.average_review_percent(store_id=store_a.pk, **earlier) is None


# ---------------------------------------------------------------- the lead page


def test_the_lead_page_lists_calls_with_players(web, sue, mike, alice, make_lead):
    from followups.models import Channel, Result
    from followups.services import followup_log

    lead = make_lead(
        mike,
        phone="13812345678",
        owner=alice,
        received_at=datetime(2024, 1, 14, 9, 0, tzinfo=SHANGHAI),
    )
    import_sample_calls(sue, sue.store)
    recording = add(sue, sue.store, "in-4008001234-13812345678-20240115-103000-1705285800.1.wav")
    followup_log(
        actor=mike,
        lead=lead,
        agent=alice,
        channel=Channel.CALL,
        result=Result.REACHED,
        occurred_at=at(10, 31),
    )
    html = web(alice).get(reverse("desk:lead", args=[lead.pk])).content.decode()
    assert 'data-testid="lead-calls"' in html
    assert html.count('data-testid="lead-call"') == 1
    audio = reverse("telephony:recording-audio", args=[recording.recording.pk])
    assert f'<audio controls preload="none" src="{audio}"' in html
    assert 'data-testid="call-verified"' in html
    # Opening the lead page plays nothing.
    assert Playback.objects.count() == 0


def test_the_lead_page_query_count_stays_bounded_with_calls(
    web, sue, mike, alice, make_lead, django_assert_max_num_queries
):
    lead = make_lead(mike, phone="13812345678", owner=alice, received_at=at(8))
    for n in range(10):
        recording_of(alice, when=at(9) + timedelta(minutes=5 * n), lead=lead)
    import_sample_calls(sue, sue.store)
    client = web(mike)
    with django_assert_max_num_queries(30):
        html = client.get(reverse("desk:lead", args=[lead.pk])).content.decode()
    assert html.count("<audio") == 10
