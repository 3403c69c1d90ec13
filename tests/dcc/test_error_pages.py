"""403, 404 and 500 in the layout, in both languages, with a way back
(issue 13 point 9)."""

import pytest
from django.urls import reverse

from dcc import views

pytestmark = pytest.mark.django_db


def test_404_in_the_layout_with_a_way_back(web, alice):
    client = web(alice)
    response = client.get(
        "/no/such/page/", HTTP_REFERER="http://testserver/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-testid="error-page"' in html
    assert 'data-testid="whoami"' in html  # the layout, signed in
    assert f'href="{reverse("desk:home")}"' in html
    assert (
        '<a class="btn btn-outline-secondary" href="http://testserver/" data-testid="error-back">'
        in html
    )


def test_403_in_both_languages(web, alice):
    client = web(alice)
    client.cookies["django_language"] = "en"
    english = client.get(reverse("directory"))
    assert english.status_code == 403
    assert "Not allowed" in english.content.decode()
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get(reverse("directory"))
    assert chinese.status_code == 403
    assert "无权访问" in chinese.content.decode()


def test_a_foreign_referer_is_no_way_back(web, alice):
    html = (
        web(alice).get("/no/such/page/", HTTP_REFERER="https://evil.example/phish").content.decode()
    )
    assert "evil.example" not in html


def test_500_in_the_layout(rf, alice):
    request = rf.get("/broken/")
    request.user = alice
    response = views.server_error(request)
    assert response.status_code == 500
    assert 'data-testid="error-page"' in response.content.decode()


def test_the_handlers_are_installed():
    from dcc import urls

    assert (urls.handler403, urls.handler404, urls.handler500) == (
        "dcc.views.permission_denied",
        "dcc.views.page_not_found",
        "dcc.views.server_error",
    )
