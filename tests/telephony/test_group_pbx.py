"""One PBX for a group's stores (issue 14 §5): each call goes to the store of
the staff member who had its extension at the time (the file's store when
nobody had it); ``store`` is optional on the import API: the caller's own,
or, for a group administrator, the stores the file's extensions name; a 400
naming the choice only where neither tells."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from telephony.models import Call, ExtensionAssignment
from tests.kpi.test_calls_as_they_happened import direct, outbound

pytestmark = pytest.mark.django_db

IMPORTS = "/api/v1/telephony/cdr-imports/"


def upload(client, lines, **fields):
    content = "".join(lines).encode()
    fields["file"] = SimpleUploadedFile("Master.csv", content, content_type="text/csv")
    return client.post(IMPORTS, fields, format="multipart")


@pytest.fixture
def start():
    return timezone.now().replace(microsecond=0) - timedelta(days=1)


def shared_pbx_file(start):
    # 8001 is alice's (store A), 6001 dave's (store B), 7777 nobody's.
    return (
        direct("13866660001", start, "TO-A", ext="8001")
        + outbound("6001", "13866660002", start + timedelta(minutes=5), "FROM-B")
        + direct("13866660003", start + timedelta(minutes=10), "NOBODY", ext="7777")
        + direct("13866660004", start + timedelta(minutes=15), "TO-A-2", ext="8002")
    )


def test_a_group_administrator_imports_without_a_store(
    api, root, alice, dave, store_a, store_b, start
):
    response = upload(api(root), shared_pbx_file(start))
    assert response.status_code == 200, response.content
    # The extensions name store A most: the file's store; dave's call goes to B.
    assert response.json()["store"] == store_a.pk
    stores = dict(Call.objects.values_list("key", "store_id"))
    assert stores == {
        "TO-A": store_a.pk,
        "FROM-B": store_b.pk,
        "NOBODY": store_a.pk,
        "TO-A-2": store_a.pk,
    }
    from_b = Call.objects.get(key="FROM-B")
    assert from_b.agent == dave
    assert Call.objects.get(key="TO-A").agent == alice
    # dave sees his call; alice does not.
    assert Call.objects.visible_to(dave).filter(key="FROM-B").exists()
    assert not Call.objects.visible_to(alice).filter(key="FROM-B").exists()


def test_the_store_of_who_had_the_extension_then(api, root, alice, dave, store_a, store_b, start):
    # 6001 was alice's in store A until yesterday noon, dave's in B since.
    noon = start + timedelta(minutes=3)
    ExtensionAssignment.objects.filter(extension="6001").update(valid_from=noon)
    ExtensionAssignment.objects.create(store=store_a, extension="6001", staff=alice, valid_to=noon)
    lines = outbound("6001", "13866660005", start, "BEFORE") + outbound(
        "6001", "13866660006", start + timedelta(minutes=5), "AFTER"
    )
    response = upload(api(root), lines)
    assert response.status_code == 200, response.content
    stores = dict(Call.objects.values_list("key", "store_id"))
    assert stores == {"BEFORE": store_a.pk, "AFTER": store_b.pk}


def test_a_400_names_the_store_only_when_nothing_tells(api, root, store_a, store_b, start):
    response = upload(api(root), direct("13866660003", start, "NOBODY", ext="7777"))
    assert response.status_code == 400
    # The 400 names the choice: the store (in the user's language).
    assert list(response.json()) == ["store"]
    assert response.json()["store"][0]
    assert not Call.objects.exists()
    # Named, it goes there.
    response = upload(
        api(root), direct("13866660003", start, "NOBODY", ext="7777"), store=store_b.pk
    )
    assert response.status_code == 200
    assert Call.objects.get().store == store_b


def test_a_store_manager_keeps_the_file_in_the_own_store(api, mike, dave, store_a, start):
    response = upload(api(mike), shared_pbx_file(start))
    assert response.status_code == 200
    # mike may not import into store B: dave's call stays in A, nobody's there.
    from_b = Call.objects.get(key="FROM-B")
    assert (from_b.store, from_b.agent) == (store_a, None)
