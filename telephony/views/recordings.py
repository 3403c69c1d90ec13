"""Telephony pages: recordings and their quality review. Routes in
``urlpatterns``, collected by telephony.urls.

- ``reviews/``: the supervisor's (manager's) list of the recordings in their
  scope, with filters, newest first.
- ``recordings/<id>/``: one recording: the player, the call's facts, the
  checklist to score it (htmx: saving keeps the player playing), the
  reviews and the play log.
- ``recordings/<id>/audio/``: the audio, scoped and logged
  (``telephony.playback``).
- ``checklist/``: a store's checklist (add, edit, retire, order).
- ``my-reviews/``: an agent's reviews and their average.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Avg, Count, OuterRef, Subquery
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dcc.htmx import is_partial
from dcc.policy import can, capability_required, get_visible_or_404, require
from dcc.views import chosen_store
from leads.forms import add_service_errors
from telephony import playback, reviews
from telephony.models import Playback, Recording, Review, ReviewItem
from telephony.review_forms import RecordingFilterForm, ReviewForm, ReviewItemForm

PAGE_SIZE = 50
PLAYBACKS_SHOWN = 50


# ---------------------------------------------------------------- the list


def _with_reviews(recordings, user):
    """Each recording's number of reviews, their mean and the user's own
    score, as subqueries (no GROUP BY over the page's joined columns)."""
    of_row = Review.objects.filter(recording=OuterRef("pk")).order_by().values("recording")
    return recordings.annotate(
        review_count=Subquery(of_row.annotate(n=Count("pk")).values("n")),
        review_mean=Subquery(of_row.annotate(mean=Avg("percent")).values("mean")),
        my_percent=Subquery(
            Review.objects.filter(recording=OuterRef("pk"), reviewer=user).values("percent")[:1]
        ),
    )


@capability_required("telephony.review")
def review_list(request):
    user = request.user
    form = RecordingFilterForm(request.GET or None, user=user)
    recordings = Recording.objects.visible_to(user)
    if form.is_bound:
        recordings = form.apply(recordings)
    recordings = _with_reviews(
        recordings.select_related("agent", "lead__customer", "call"), user
    ).order_by("-started_at", "-pk")
    page = Paginator(recordings, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "telephony/review_list.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


# ---------------------------------------------------------------- one recording


def _recording(user, pk) -> Recording:
    queryset = Recording.objects.select_related("agent", "lead__customer", "call", "store")
    return get_visible_or_404(queryset, user, pk=pk)


def _review_context(request, recording: Recording, *, form=None) -> dict:
    user = request.user
    may_review = can(user, "telephony.review")
    own_call = recording.agent_id is not None and recording.agent_id == user.pk
    scores = may_review and not own_call
    mine = Review.objects.filter(recording=recording, reviewer=user).first() if scores else None
    if scores and form is None:
        form = ReviewForm(items=reviews.checklist_for(recording.store), review=mine)
    visible = (
        Review.objects.visible_to(user)
        .filter(recording=recording)
        .select_related("reviewer", "agent")
        .order_by("-updated_at", "-pk")
    )
    context = {
        "recording": recording,
        "form": form if scores else None,
        "mine": mine,
        "own_call": own_call and may_review,
        "reviews": list(visible),
        "audio_url": reverse("telephony:recording-audio", args=[recording.pk]),
        "may_review": may_review,
        "partial": is_partial(request),
    }
    if may_review:
        plays = Playback.objects.visible_to(user).filter(recording=recording)
        context["playbacks"] = list(plays.select_related("user")[:PLAYBACKS_SHOWN])
        context["playback_count"] = plays.count()
    return context


def recording_detail(request, pk):
    """Anyone who may see the recording listens here; a supervisor or a
    manager also scores it. Saving answers the review panel (htmx) so that
    the player is not reloaded (and a reload would count as another play)."""
    recording = _recording(request.user, pk)
    form = None
    if request.method == "POST":
        require(request.user, "telephony.review")
        items = reviews.checklist_for(recording.store)
        form = ReviewForm(request.POST, items=items)
        if form.is_valid():
            try:
                review = reviews.review_save(
                    actor=request.user, recording=recording, **form.service_kwargs()
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Review saved: %(total)s of %(max)s points (%(percent)s%%).")
                    % {"total": review.total, "max": review.max_total, "percent": review.percent},
                )
                if not is_partial(request):
                    return redirect("telephony:recording", pk=recording.pk)
                form = None
    context = _review_context(request, recording, form=form)
    if is_partial(request):
        return render(request, "telephony/partials/review_panel.html", context)
    return render(request, "telephony/recording.html", context)


def recording_audio(request, pk):
    return playback.serve_recording(request, pk, user=request.user, via="web")


# ---------------------------------------------------------------- my reviews


def my_reviews(request):
    """The reviews of the user's own calls, newest first, and their mean."""
    mine = Review.objects.visible_to(request.user).filter(agent=request.user)
    summary = mine.aggregate(mean=Avg("percent"), count=Count("pk"))
    rows = mine.select_related("reviewer", "recording__lead__customer").order_by(
        "-created_at", "-pk"
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "telephony/my_reviews.html", {"page": page, "summary": summary})


# ---------------------------------------------------------------- checklist


@capability_required("telephony.checklist.manage")
def checklist(request):
    store, stores = chosen_store(request)
    if request.method == "POST":
        form = ReviewItemForm(request.POST, prefix="new")
        form.fields["order"].required = False
        if form.is_valid():
            try:
                item = reviews.item_add(actor=request.user, store=store, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Item “%(label)s” added.") % {"label": item.label})
                return redirect(f"{reverse('telephony:checklist')}?store={store.pk}")
    else:
        form = ReviewItemForm(prefix="new", initial={"order": None})
        form.fields["order"].required = False
    items = reviews.checklist_for(store, active_only=False)
    return render(
        request,
        "telephony/checklist.html",
        {
            "store": store,
            "stores": stores,
            "items": items,
            "active_points": sum(item.points for item in items if item.is_active),
            "form": form,
        },
    )


def _item(request, pk) -> ReviewItem:
    require(request.user, "telephony.checklist.manage")
    return get_visible_or_404(ReviewItem.objects.select_related("store"), request.user, pk=pk)


def checklist_item(request, pk):
    item = _item(request, pk)
    if request.method == "POST":
        form = ReviewItemForm(request.POST, instance=ReviewItem.objects.get(pk=item.pk))
        if form.is_valid():
            try:
                reviews.item_update(actor=request.user, item=item, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Item saved; it applies to reviews from now on."))
                return redirect(f"{reverse('telephony:checklist')}?store={item.store_id}")
    else:
        form = ReviewItemForm(instance=item)
    return render(request, "telephony/checklist_item.html", {"item": item, "form": form})


@require_POST
def checklist_item_active(request, pk):
    item = _item(request, pk)
    active = request.POST.get("active") == "1"
    try:
        reviews.item_set_active(actor=request.user, item=item, active=active)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("“%(label)s” is back on the checklist.") % {"label": item.label}
            if active
            else _("“%(label)s” retired: old reviews keep its scores.") % {"label": item.label},
        )
    return redirect(f"{reverse('telephony:checklist')}?store={item.store_id}")


urlpatterns = [
    path("reviews/", review_list, name="reviews"),
    path("my-reviews/", my_reviews, name="my-reviews"),
    path("recordings/<int:pk>/", recording_detail, name="recording"),
    path("recordings/<int:pk>/audio/", recording_audio, name="recording-audio"),
    path("checklist/", checklist, name="checklist"),
    path("checklist/<int:pk>/", checklist_item, name="checklist-item"),
    path("checklist/<int:pk>/active/", checklist_item_active, name="checklist-item-active"),
]
