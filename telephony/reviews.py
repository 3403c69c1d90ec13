"""Quality review of recordings (issue 5 §5): a store's checklist and a
supervisor's scores.

- Each store has its own checklist (``ReviewItem``). A store without any
  item gets the default one the first time anyone needs it
  (``checklist_for``): greeting with the store's and one's own name, needs
  analysis, product presentation and answers, invitation to the store,
  standard closing, attitude and tone, 100 points in all. Its labels are
  written in the site's language (``LANGUAGE_CODE``), whoever asks first.
- Items are retired, never deleted: old reviews keep the checklist as it was
  (``Review.scores`` is a snapshot: item, label, points, score, note).
- A reviewer scores a recording once: saving again updates their review
  (the earlier versions stay in its history). Nobody scores their own call.
- ``average_review_percent``: the mean of ``Review.percent`` in SQL, by the
  time the review was made (a month's figure does not move when last
  month's calls are reviewed late), for the KPI scorecard.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Avg, Max
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from dcc.audit import attribute
from dcc.models import Store
from dcc.policy import require
from telephony.models import Recording, Review, ReviewItem

# (label, what to listen for, points): seed 001's quality review, 100 points.
DEFAULT_CHECKLIST = (
    (
        gettext_noop("Greeting with the store's and one's own name"),
        gettext_noop("Answers within three rings; names the store and themself."),
        15,
    ),
    (
        gettext_noop("Needs analysis"),
        gettext_noop("Asks about the model, budget, purchase time and who decides."),
        20,
    ),
    (
        gettext_noop("Product presentation and answers"),
        gettext_noop("Answers the questions correctly; presents what matters to this customer."),
        20,
    ),
    (
        gettext_noop("Invitation to the store"),
        gettext_noop("Tries to book a visit or a test drive with a day and a time."),
        20,
    ),
    (
        gettext_noop("Standard closing"),
        gettext_noop(
            "Sums up, agrees the next contact, thanks the customer and lets them hang up first."
        ),
        10,
    ),
    (
        gettext_noop("Attitude and tone"),
        gettext_noop("Friendly, patient and clear; does not interrupt."),
        15,
    ),
)


def checklist_for(store: Store, *, active_only: bool = True) -> list[ReviewItem]:
    """The store's checklist in order; the default one if it has none yet."""
    items = ReviewItem.objects.filter(store=store)
    if not items.exists():
        create_default_checklist(store)
    if active_only:
        items = items.filter(is_active=True)
    return list(items.order_by("order", "id"))


def create_default_checklist(store: Store) -> None:
    with transaction.atomic():
        # Two first uses at once: the store row's lock lets one of them write.
        Store.objects.select_for_update().filter(pk=store.pk).first()
        if ReviewItem.objects.filter(store=store).exists():
            return
        with translation.override(settings.LANGUAGE_CODE):
            for order, (label, hint, points) in enumerate(DEFAULT_CHECKLIST, start=1):
                ReviewItem.objects.create(
                    store=store, label=_(label), hint=_(hint), points=points, order=order * 10
                )


def _require_checklist_store(actor, store: Store) -> None:
    require(actor, "telephony.checklist.manage")
    if not Store.objects.visible_to(actor).filter(pk=store.pk).exists():
        raise PermissionDenied("store outside the actor's scope")


def item_add(*, actor, store: Store, label: str, points: int, hint: str = "", order=None):
    _require_checklist_store(actor, store)
    checklist_for(store)  # a first item added by hand comes after the defaults
    if order is None:
        last = ReviewItem.objects.filter(store=store).aggregate(last=Max("order"))["last"]
        order = (last or 0) + 10
    item = ReviewItem(store=store, label=label, hint=hint, points=points, order=order)
    item.full_clean()
    attribute(item, actor=actor)
    item.save()
    return item


def item_update(*, actor, item: ReviewItem, **fields) -> ReviewItem:
    """Change an item's label, hint, points or order (future reviews only)."""
    _require_checklist_store(actor, item.store)
    for name, value in fields.items():
        if name not in ("label", "hint", "points", "order", "is_active"):
            raise TypeError(name)
        setattr(item, name, value)
    item.full_clean()
    attribute(item, actor=actor)
    item.save()
    return item


def item_set_active(*, actor, item: ReviewItem, active: bool) -> ReviewItem:
    """Retire an item (reviews no longer score it) or bring it back."""
    return item_update(actor=actor, item=item, is_active=active)


# ---------------------------------------------------------------- reviews


def percent_of(total: int, max_total: int) -> Decimal:
    if not max_total:
        return Decimal("0.00")
    return (Decimal(total) * 100 / Decimal(max_total)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def review_save(
    *,
    actor,
    recording: Recording,
    scores: dict[int, int],
    notes: dict[int, str] | None = None,
    comment: str = "",
) -> Review:
    """Score ``recording`` on its store's checklist: ``scores`` maps every
    active item's id to 0..its points; ``notes`` an optional word per item.
    Saving again updates the reviewer's review of this recording."""
    require(actor, "telephony.review")
    if not Recording.objects.visible_to(actor).filter(pk=recording.pk).exists():
        raise PermissionDenied("recording outside the actor's scope")
    if recording.agent_id is not None and recording.agent_id == actor.pk:
        raise ValidationError(_("Nobody scores their own call: ask a colleague."))
    notes = notes or {}
    items = checklist_for(recording.store)
    if not items:
        raise ValidationError(_("The checklist has no active items."))
    errors = {}
    snapshot = []
    for item in items:
        score = scores.get(item.pk)
        if score is None:
            errors[f"item_{item.pk}"] = _("Score this item.")
            continue
        if not 0 <= int(score) <= item.points:
            errors[f"item_{item.pk}"] = _("Between 0 and %(points)s.") % {"points": item.points}
            continue
        snapshot.append(
            {
                "item": item.pk,
                "label": item.label,
                "points": item.points,
                "score": int(score),
                "note": (notes.get(item.pk) or "").strip()[:300],
            }
        )
    if errors:
        raise ValidationError(errors)
    total = sum(row["score"] for row in snapshot)
    max_total = sum(row["points"] for row in snapshot)
    with transaction.atomic():
        # Reviews of one recording are saved one at a time (a double submit).
        Recording.objects.select_for_update().filter(pk=recording.pk).first()
        review = Review.objects.filter(recording=recording, reviewer=actor).first()
        if review is None:
            review = Review(store_id=recording.store_id, recording=recording, reviewer=actor)
        review.agent_id = recording.agent_id
        review.scores = snapshot
        review.total = total
        review.max_total = max_total
        review.percent = percent_of(total, max_total)
        review.comment = comment.strip()
        attribute(review, actor=actor)
        review.save()
    return review


def average_review_percent(
    *,
    since: datetime,
    until: datetime,
    agent_ids: Iterable[int] | None = None,
    team_id: int | None = None,
    store_id: int | None = None,
) -> Decimal | None:
    """The mean score (%) of the reviews made in [since, until) of the given
    agents' calls, or a team's, or a store's; None without reviews. One
    query (SQL AVG), for the KPI scorecard."""
    reviews = Review.objects.filter(created_at__gte=since, created_at__lt=until)
    if agent_ids is not None:
        reviews = reviews.filter(agent_id__in=list(agent_ids))
    if team_id is not None:
        reviews = reviews.filter(agent__team_id=team_id)
    if store_id is not None:
        reviews = reviews.filter(store_id=store_id)
    value = reviews.aggregate(mean=Avg("percent"))["mean"]
    if value is None:
        return None
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
