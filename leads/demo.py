"""Demo leads for `make run`: a Buick dealer's model line and a few weeks of
leads across every source and channel, entered through the services so that
history, deadlines and audit events are real. Idempotent: a store that
already has leads is left alone; phones are generated from a fixed seed.
"""

import random
from datetime import timedelta

from django.utils import timezone

from dcc.models import Store, User
from dcc.roles import Role
from leads import services
from leads.models import Channel, DefeatReason, Lead, Source, ValueAlias, ValueKind, VehicleModel

MODELS = [
    ("英朗", "轿车"),
    ("君威", "轿车"),
    ("君越", "轿车"),
    ("昂科拉", "SUV"),
    ("昂科威", "SUV"),
    ("昂科旗", "SUV"),
    ("GL8", "MPV"),
    ("微蓝6", "新能源"),
]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙"
    "史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰飞鹏辉建国志宏海燕婷雪琳晨浩宇欣怡子轩梓涵"
)
MOBILE_PREFIXES = [
    "138",
    "139",
    "137",
    "136",
    "135",
    "150",
    "151",
    "152",
    "158",
    "159",
    "186",
    "187",
    "188",
    "177",
    "180",
    "181",
    "189",
    "199",
    "166",
]
NOTES = [
    "想了解最新优惠",
    "关注油耗和保养费用",
    "周末方便到店",
    "对比了竞品",
    "家里换车",
    "需要7座",
    "关注贷款方案",
    "想看现车颜色",
    "",
]


def _name(rng):
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))
    # Now and then only a form of address was left, as happens on web forms.
    return name[0] + rng.choice(["先生", "女士"]) if rng.random() < 0.1 else name


def _phone(rng):
    return rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randint(0, 9)) for _ in range(8))


def load():
    for code, category in MODELS:
        vehicle_model, _new = VehicleModel.objects.get_or_create(
            name=code, defaults={"category": category}
        )
        # How OEM systems and portals write it: 别克GL8, 别克昂科威 (issue 16).
        ValueAlias.objects.get_or_create(
            kind=ValueKind.MODEL, alias=f"别克{code}", defaults={"vehicle_model": vehicle_model}
        )
    for store in Store.objects.filter(code__in=["SH01", "SZ01"]):
        if not Lead.objects.filter(store=store).exists():
            _store_leads(store, count=140 if store.code == "SH01" else 40)


def _store_leads(store, *, count):
    rng = random.Random(f"dcc-demo-{store.code}")  # noqa: S311 - demo data, not security
    manager = User.objects.filter(store=store, role=Role.MANAGER).first()
    dcc_staff = list(
        User.objects.filter(store=store, role__in=[Role.AGENT, Role.CALLER], is_active=True)
    )
    consultants = list(User.objects.filter(store=store, role=Role.CONSULTANT))
    models = list(VehicleModel.objects.all())
    channels = list(Channel.objects.all())
    reasons = list(DefeatReason.objects.for_store(store))
    now = timezone.now()
    sources = (
        [Source.WEB] * 5
        + [Source.MANUFACTURER] * 3
        + [Source.LOW_INTENT, Source.REPURCHASE, Source.INBOUND, Source.WALK_IN]
    )
    for index in range(count):
        source = sources[index % len(sources)]
        received_at = now - timedelta(days=rng.randint(0, 45), minutes=rng.randint(0, 600))
        # A few fresh manufacturer leads wait for the manager's assignment.
        unassigned = source == Source.MANUFACTURER and rng.random() < 0.35
        if unassigned:
            received_at = now - timedelta(hours=rng.randint(1, 40))
        owner = None if unassigned or not dcc_staff else rng.choice(dcc_staff)
        if source == Source.WALK_IN and consultants:
            owner = rng.choice(consultants)
        try:
            lead = services.lead_create(
                actor=manager,
                store=store,
                name=_name(rng),
                phone=_phone(rng),
                source=source,
                channel=rng.choice(channels) if source == Source.WEB else None,
                intended_model=rng.choice(models) if rng.random() < 0.9 else None,
                level=rng.choice("HABBCC"),
                owner=owner,
                received_at=received_at,
                note=rng.choice(NOTES),
                handover_consultant=rng.choice(consultants)
                if source == Source.LOW_INTENT and consultants
                else None,
                handover_defeat_reason="价格原因" if source == Source.LOW_INTENT else "",
            )
        except services.DuplicateLead:
            continue
        _advance(lead, rng=rng, manager=manager, reasons=reasons)


def _advance(lead, *, rng, manager, reasons):
    """Move some leads along the lifecycle so every status is on show. A
    defeat takes effect some days after receipt (spread over the weeks, as
    the defeat analysis reads them by month), never in the future."""
    if lead.owner_id is None:
        return
    roll = rng.random()
    if roll < 0.12:
        services.lead_defeat(
            actor=manager, lead=lead, reason=rng.choice(reasons), note="多次联系后放弃"
        )
        # What no service may do: back-date the defeat to when it happened.
        defeated_at = min(
            lead.received_at + timedelta(days=rng.randint(2, 12), hours=rng.randint(0, 6)),
            timezone.now() - timedelta(hours=1),
        )
        Lead.objects.filter(pk=lead.pk).update(defeated_at=max(defeated_at, lead.received_at))
    elif roll < 0.16:
        services.lead_invalidate(actor=manager, lead=lead, reason="wrong_number", note="空号")
    # Deals come later (``followups.demo``): each after a visit to the store.
