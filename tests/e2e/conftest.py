"""Browser tests: Playwright for Python driving Debian's Chromium.

Browser downloads are impossible here, so Playwright launches
``/usr/bin/chromium`` (installed by .ci/run), or CHROMIUM_PATH. Without it
the tests skip, or fail where DCC_REQUIRE names chromium (tests/requires.py).
"""

import pytest

from tests.requires import chromium_path


@pytest.fixture(scope="session", autouse=True)
def _allow_orm_beside_playwright():
    """Playwright's sync API runs an event loop in the test thread; Django's
    async-safety guard would then refuse the ORM calls that set up and flush
    test data. Only for the browser tests, and undone after them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": chromium_path() or "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def login(page, live_server):
    """``login(username)``: sign in through the real login form."""

    def sign_in(username, password="correct-horse-battery"):
        # A second sign-in in one test switches user. Leave the previous page
        # first: its lazy htmx sections, fired after the cookies are gone,
        # would come back through the login page with a fresh CSRF cookie
        # and overwrite the one the login form below was rendered with.
        page.goto("about:blank")
        page.context.clear_cookies()
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"{live_server.url}/")
        return page

    return sign_in
