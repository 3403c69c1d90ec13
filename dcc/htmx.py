"""htmx helpers shared by the apps' views."""


def is_partial(request) -> bool:
    """An htmx request wanting a fragment (not a history restore, which needs
    the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request
