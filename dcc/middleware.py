from django.contrib.auth.middleware import LoginRequiredMiddleware as _LoginRequired


class LoginRequiredMiddleware(_LoginRequired):
    """Django's login-required default, except for the API: DRF authenticates
    tokens itself and answers 401 rather than redirecting to the login page."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class ChineseFirstMiddleware:
    """zh-hans unless the user chose otherwise with the language switch.

    Django would follow the browser's Accept-Language; the DCC room's PCs often
    run English-locale browsers while their users expect Chinese, so only the
    language cookie (set by the switch in the layout) may change the language.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
