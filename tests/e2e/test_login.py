import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HOMES = [
    ("alice", "我的工作台"),
    ("carol", "我的工作台"),
    ("connie", "今明两天到店的客户"),  # a consultant: arrivals, not a call queue
    ("sue", "我的团队"),
    ("mike", "门店概况"),
    ("root", "系统"),
]


@pytest.mark.parametrize(("username", "title"), HOMES)
def test_each_role_logs_in_and_sees_its_home(everyone, login, username, title):
    page = login(username)
    expect(page.get_by_test_id("home-title")).to_have_text(title)
    expect(page.get_by_test_id("whoami")).to_contain_text(everyone[username].display_name)


def test_wrong_password_stays_on_login(alice, page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("用户名").fill("alice")
    page.get_by_label("密码").fill("wrong")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_text("请输入一个正确的用户名和密码")).to_be_visible()
    assert "/accounts/login/" in page.url


def test_switch_to_english_and_log_out(alice, login, live_server):
    page = login("alice")
    page.get_by_label("语言").select_option("en")
    expect(page.get_by_test_id("home-title")).to_have_text("My desk")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
