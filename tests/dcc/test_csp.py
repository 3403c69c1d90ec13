"""The Content-Security-Policy: strict on every page (our own files only, no
inline code or styles), and no template brings inline code back."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = [part.strip().split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


@pytest.mark.parametrize(
    ("username", "url"),
    [
        (None, "/accounts/login/"),
        ("alice", "/"),
        ("alice", "/followups/appointments/"),
        ("mike", "/kpi/dashboard/"),
        ("mike", "/kpi/"),
    ],
)
def test_pages_carry_a_strict_policy(client, web, everyone, username, url):
    response = (web(everyone[username]) if username else client).get(url)
    assert response.status_code == 200, url
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    for values in policy.values():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "https:", "http:"} & set(values)


def test_api_docs_need_no_inline_script(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    assert _policy(response)["script-src"] == ["'self'"]
    assert not re.search(rb"<script(?![^>]*\bsrc=)[^>]*>", response.content)


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
STYLE_BLOCK = re.compile(r"<style[\s>]", re.IGNORECASE)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT / "templates")))
def test_templates_have_no_inline_code_or_styles(path):
    text = path.read_text()
    for pattern in (INLINE_SCRIPT, INLINE_HANDLER, STYLE_ATTRIBUTE, STYLE_BLOCK):
        assert not pattern.search(text), f"{path.name}: {pattern.pattern}"
    assert "javascript:" not in text
