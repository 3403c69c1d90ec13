"""Control characters are refused at input (issue "Hold under attack and
faults", point 4): one validator (``dcc.validators.no_control_characters``)
on the names and notes, answered as the API's 400 naming the field, a form
error, and the import's row error naming row and field.
"""

import pytest
from django.urls import reverse
from django.utils import translation

from dcc.validators import no_control_characters
from leads.models import Lead
from tests.leads.test_import import row, run
from tests.leads.test_pages import new_lead_data

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
MESSAGE = "Remove the control character"
# In whichever language the request got: the message names the character.
CODE = "U+00"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.mark.parametrize("text", ["a\x00b", "\x07", "x\x1b[31m", "y\x7f", "z\x9b"])
def test_the_validator_refuses_control_characters(text):
    with pytest.raises(Exception, match=MESSAGE):
        no_control_characters(text)


@pytest.mark.parametrize("text", ["王小明", "line one\nline two\r\n\tindented", ""])
def test_the_validator_lets_text_through(text):
    no_control_characters(text)


@pytest.mark.parametrize(("field", "value"), [("name", "张\x1b三丰"), ("note", "官网\x07留资")])
def test_lead_api_answers_400_naming_the_field(api, alice, field, value):
    body = {"name": "张三丰", "phone": "138-1234-5678", "source": "web", field: value}
    response = api(alice).post(LEADS, body, format="json")
    assert response.status_code == 400, response.content
    assert CODE in response.json()[field][0]
    assert not Lead.objects.exists()


def test_lead_api_edit_answers_400(api, alice, make_lead):
    lead = make_lead(alice)
    response = api(alice).patch(f"{LEADS}{lead.pk}/", {"name": "李\x01四"}, format="json")
    assert response.status_code == 400, response.content
    assert CODE in response.json()["name"][0]


def test_org_api_answers_400_naming_the_field(api, mike, store_a):
    response = api(mike).post(
        "/api/v1/teams/", {"name": "一\x0b组", "store": store_a.pk}, format="json"
    )
    assert response.status_code == 400, response.content
    assert CODE in response.json()["name"][0]
    response = api(mike).post(
        "/api/v1/vehicle-models/", {"name": "昂科\x1f威", "category": "SUV"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert CODE in response.json()["name"][0]


def test_new_lead_form_shows_the_error(web, alice):
    response = web(alice).post(reverse("leads:new"), new_lead_data(name="陈\x01大文"))
    assert response.status_code == 200
    assert CODE in response.context["form"].errors["name"][0]
    assert not Lead.objects.exists()


def test_import_names_the_row_and_field(mike):
    result = run(
        mike,
        [
            row(name="张伟", phone="13812345678"),
            row(name="王\x9b伟", phone="13912345678", note="周末\x7f来店"),
        ],
    )
    errors = {(e.row, e.field) for e in result.errors}
    assert errors == {(3, "name"), (3, "note")}
    assert all(MESSAGE in e.message for e in result.errors)
    assert result.created == 0
