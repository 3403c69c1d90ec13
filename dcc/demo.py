"""Demo organisation for `make run`: two stores of a Buick dealer group, teams,
staff of every role. Idempotent: rows are found by their natural keys."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from dcc import events
from dcc.models import Store, Team, User
from dcc.roles import Role

DEMO_PASSWORD = "dcc-demo-2026"  # noqa: S105 - demo data for `make run` only

STORES = [
    ("SH01", "上海浦东别克4S店", "021"),
    ("SZ01", "苏州园区别克4S店", "0512"),
]
TEAMS = [("SH01", "电话营销一组"), ("SH01", "网销组"), ("SZ01", "电话营销组")]
# username, name, role, store, team, extension
STAFF = [
    ("admin", "系统管理员", Role.ADMIN, None, None, ""),
    ("manager", "王建国", Role.MANAGER, "SH01", None, "8000"),
    ("supervisor", "李娜", Role.SUPERVISOR, "SH01", "电话营销一组", "8010"),
    ("agent", "张丽", Role.AGENT, "SH01", "电话营销一组", "8001"),
    ("agent2", "刘洋", Role.AGENT, "SH01", "电话营销一组", "8002"),
    ("caller", "陈晨", Role.CALLER, "SH01", "电话营销一组", "8003"),
    ("web_agent", "周敏", Role.AGENT, "SH01", "网销组", "8004"),
    ("web_supervisor", "吴昊", Role.SUPERVISOR, "SH01", "网销组", "8011"),
    ("consultant", "赵磊", Role.CONSULTANT, "SH01", None, "8101"),
    ("consultant2", "孙倩", Role.CONSULTANT, "SH01", None, "8102"),
    ("aftersales", "何静", Role.AFTERSALES, "SH01", None, ""),
    ("sz_manager", "钱峰", Role.MANAGER, "SZ01", None, "6000"),
    ("sz_supervisor", "郑洁", Role.SUPERVISOR, "SZ01", "电话营销组", "6010"),
    ("sz_agent", "冯涛", Role.AGENT, "SZ01", "电话营销组", "6001"),
]


def load():
    stores = {}
    for code, name, area_code in STORES:
        stores[code], _ = Store.objects.get_or_create(
            code=code, defaults={"name": name, "area_code": area_code}
        )
    teams = {}
    for code, name in TEAMS:
        teams[(code, name)], _ = Team.objects.get_or_create(store=stores[code], name=name)
    for username, name, role, store_code, team_name, extension in STAFF:
        if User.objects.filter(username=username).exists():
            continue
        user = User(
            username=username,
            name=name,
            role=role,
            store=stores.get(store_code),
            team=teams.get((store_code, team_name)),
            extension=extension,
            is_staff=role == Role.ADMIN,
            is_superuser=role == Role.ADMIN,
        )
        user.set_password(DEMO_PASSWORD)
        user.save()
        events.staff_saved.send(sender=User, staff=user, actor=None)
    return [(username, role.label) for username, _n, role, *_rest in STAFF]


# Calls and visits of the demo happen when a sales center works.
OPENS, CLOSES = 9, 20


def business_hours(moment, *, now=None):
    """``moment`` moved into the local working day (9:00–20:00): a time
    before opening moves to that morning, one after closing to the next
    morning, keeping its minutes; never after ``now`` (then just before
    ``now`` if the center is open, else the last working evening)."""
    local = timezone.localtime(moment)
    if local.hour < OPENS:
        local = local.replace(hour=OPENS)
    elif local.hour >= CLOSES:
        local = (local + timedelta(days=1)).replace(hour=OPENS)
    if now is not None and local > now:
        latest = timezone.localtime(now - timedelta(minutes=1))
        if OPENS <= latest.hour < CLOSES:
            return latest
        day = latest.date() if latest.hour >= CLOSES else latest.date() - timedelta(days=1)
        local = timezone.make_aware(datetime.combine(day, time(CLOSES - 1, local.minute)))
    return local
