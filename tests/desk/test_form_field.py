"""``{% form_field %}`` (dcc.templatetags.dcc_forms) writes the HTML of
django-bootstrap5's ``{% bootstrap_field %}``, faster: for every field of
every form the lead page offers, fresh, and bound with errors (whitespace
between tags aside)."""

import re

import pytest
from django.template import engines

from dcc.templatetags.dcc_forms import form_field
from desk.views.lead import ACTIONS

pytestmark = pytest.mark.django_db

BOOTSTRAP = engines["django"].from_string(
    '{% load django_bootstrap5 %}{% bootstrap_field field wrapper_class="mb-1" %}'
)


def _same(html: str) -> str:
    return re.sub(r">\s+<", "><", str(html)).strip()


@pytest.mark.parametrize("slug", sorted(ACTIONS))
@pytest.mark.parametrize("bound", [False, True], ids=["fresh", "with-errors"])
def test_form_field_writes_bootstrap_fields_markup(slug, bound, alice, make_lead):
    lead = make_lead(alice, note="想买 <SUV> & 白色")
    form_class = ACTIONS[slug].form
    data = {f"{form_class.prefix_name}-note": "x" * 5000, "unknown": "1"} if bound else None
    form = form_class(data, lead=lead, user=alice) if bound else form_class(lead=lead, user=alice)
    if bound:
        form.is_valid()
    for field in form:
        expected = _same(BOOTSTRAP.render({"field": field}))
        assert _same(form_field(field, wrapper_class="mb-1")) == expected, field.name
