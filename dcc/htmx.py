"""htmx helpers shared by the apps' views."""

from django.http import QueryDict


def is_partial(request) -> bool:
    """An htmx request wanting a fragment (not a history restore, which needs
    the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def without_blanks(query: QueryDict) -> QueryDict:
    """The filter bar submits every field; empty ones mean "any"."""
    cleaned = QueryDict(mutable=True)
    for key, values in query.lists():
        kept = [value for value in values if value.strip()]
        if kept:
            cleaned.setlist(key, kept)
    return cleaned
