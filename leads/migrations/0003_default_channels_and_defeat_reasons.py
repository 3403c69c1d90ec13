"""The managed lists' defaults (DESIGN §2, seed 004; API.md defeat reasons)."""

from django.db import migrations

CHANNELS = [
    ("autohome", "汽车之家"),
    ("bitauto", "易车网"),
    ("pcauto", "太平洋汽车网"),
    ("dongchedi", "懂车帝"),
    ("baidu", "百度推广"),
    ("weibo", "微博"),
    ("forum", "论坛"),
    ("video", "视频网站"),
    ("groupbuy", "团购网站"),
    ("wechat", "微信/QQ群"),
    ("other", "其他"),
]
DEFEAT_REASONS = [
    ("bought_competitor", "购买竞品"),
    ("bought_elsewhere", "他店购买"),
    ("price", "价格原因"),
    ("postponed", "暂缓购车"),
    ("unreachable", "无法联系"),
    ("other", "其他"),
]


def add_defaults(apps, schema_editor):
    Channel = apps.get_model("leads", "Channel")
    DefeatReason = apps.get_model("leads", "DefeatReason")
    for order, (code, label) in enumerate(CHANNELS):
        Channel.objects.get_or_create(code=code, defaults={"label": label, "sort_order": order})
    for order, (code, label) in enumerate(DEFEAT_REASONS):
        DefeatReason.objects.get_or_create(
            store=None, code=code, defaults={"label": label, "sort_order": order}
        )


class Migration(migrations.Migration):
    dependencies = [("leads", "0002_leads_customers_deals")]
    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
