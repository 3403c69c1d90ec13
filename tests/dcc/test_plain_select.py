"""dcc.forms.PlainSelect writes what Django's select templates write."""

import pytest
from django import forms
from django.test.html import parse_html

from dcc.forms import PlainSelect

CHOICES = [
    ("", "---------"),
    (1, "王伟 · 电话营销专员"),
    (2, 'Tom & "Jerry" <b>'),
    ("Group", [(3, "三"), (4, "四")]),
]


@pytest.mark.parametrize("value", [None, 2, "4"])
@pytest.mark.parametrize(
    "attrs",
    [None, {"class": "form-select", "data-for-result": "invited", "required": True, "x": False}],
)
def test_same_html_as_djangos_select(value, attrs):
    ours = PlainSelect(choices=CHOICES).render(
        "receiver", value, attrs={"id": "id_r", **(attrs or {})}
    )
    theirs = forms.Select(choices=CHOICES).render(
        "receiver", value, attrs={"id": "id_r", **(attrs or {})}
    )
    assert parse_html(ours) == parse_html(theirs)
    assert "<b>" not in ours
