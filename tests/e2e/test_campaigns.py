"""Issue 18 in Chromium: a manager builds a segment, watching the count
follow the filters (htmx), saves it, creates a campaign on it and launches
it: the members are frozen and the first SMS round is planned."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from followups.campaigns.models import Campaign, CampaignStatus
from followups.models import SmsKind, SmsMessage
from leads import owners

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_manager_builds_a_segment_and_launches_a_campaign(
    mike, envision, login, page, live_server
):
    today = timezone.localdate()
    for index, years in enumerate([1, 2, 5, 6]):
        owners.owner_add(
            actor=mike,
            store=mike.store,
            name=f"老车主{index}",
            phone=f"1370000300{index}",
            vehicle_model=envision,
            delivered_on=today.replace(year=today.year - years),
        )
    login("mike")
    page.goto(f"{live_server.url}/campaigns/")
    page.get_by_test_id("segment-new").click()
    count = page.get_by_test_id("segment-count")
    expect(count).to_have_text("4")
    page.locator("[name='vehicle_age_min']").fill("4")
    expect(count).to_have_text("2")  # the count follows the filter, nothing saved
    page.locator("[name='name']").fill("四年以上车主")
    page.get_by_test_id("segment-save").click()
    expect(page.get_by_test_id("segment-list")).to_contain_text("四年以上车主")

    page.get_by_test_id("campaign-new").click()
    form = page.get_by_test_id("campaign-form")
    form.locator("[name='name']").fill("老客户置换季")
    form.locator("select[name='segment']").select_option(label="四年以上车主")
    form.locator("[name='sms_template_id']").fill("2001")
    form.locator("[name='sms_params_text']").fill("name,model,store")
    form.locator("[name='call_script']").fill("您好，这里是浦东店……")
    page.get_by_test_id("campaign-save").click()
    expect(page.get_by_test_id("launch-count")).to_have_text("2")
    page.get_by_test_id("campaign-launch").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("已启动")
    expect(page.get_by_test_id("member-total")).to_have_text("2")
    expect(page.get_by_test_id("member-row")).to_have_count(2)
    expect(page.get_by_test_id("round-row")).to_have_count(1)

    campaign = Campaign.objects.get(name="老客户置换季")
    assert campaign.status == CampaignStatus.LAUNCHED
    messages = SmsMessage.objects.filter(kind=SmsKind.CAMPAIGN)
    assert sorted(m.params[0] for m in messages) == ["老车主2", "老车主3"]
