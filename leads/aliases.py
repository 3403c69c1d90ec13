"""Other names for what a lead file or a sender writes: column headers of the
usual Chinese exports, and channels and vehicle models as portals and OEM
systems spell them (易车 → 易车网, 别克GL8 → GL8, 汽车之家-车商汇 → 汽车之家).

The header list here is built in; an administrator adds more
(``HeaderAlias``, Django admin). Value aliases are all kept by the
administrator (``ValueAlias``; the defaults come with a migration). Every
way a lead arrives resolves channels and models through ``Resolver`` (a
whole file: one query per list) or ``resolve`` (one value): the import, the
API and any connector alike. An unknown value comes back with the closest
known one (difflib), for the message.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from leads.models import Channel, HeaderAlias, LeadField, ValueAlias, ValueKind, VehicleModel

# The usual headers of OEM DMS/CRM clue exports, car portals and ad
# platforms (docs/lead-files.md says where each comes from). Normalised
# (``normalize_header``) before lookup.
HEADER_ALIASES: dict[str, str] = {
    # name
    "客户姓名": LeadField.NAME,
    "客户名称": LeadField.NAME,
    "姓名": LeadField.NAME,
    "联系人": LeadField.NAME,
    "联系人姓名": LeadField.NAME,
    "用户姓名": LeadField.NAME,
    "用户名称": LeadField.NAME,
    "留资人": LeadField.NAME,
    "name": LeadField.NAME,
    # phone
    "手机号": LeadField.PHONE,
    "手机号码": LeadField.PHONE,
    "手机": LeadField.PHONE,
    "客户电话": LeadField.PHONE,
    "客户手机": LeadField.PHONE,
    "客户手机号": LeadField.PHONE,
    "联系电话": LeadField.PHONE,
    "联系方式": LeadField.PHONE,
    "电话": LeadField.PHONE,
    "电话号码": LeadField.PHONE,
    "用户手机号": LeadField.PHONE,
    "phone": LeadField.PHONE,
    # intended model
    "意向车型": LeadField.INTENDED_MODEL,
    "意向车系": LeadField.INTENDED_MODEL,
    "首触意向车型": LeadField.INTENDED_MODEL,
    "车型": LeadField.INTENDED_MODEL,
    "车系": LeadField.INTENDED_MODEL,
    "意向车型名称": LeadField.INTENDED_MODEL,
    "intended_model": LeadField.INTENDED_MODEL,
    # channel
    "线索来源": LeadField.CHANNEL,
    "来源渠道": LeadField.CHANNEL,
    "渠道": LeadField.CHANNEL,
    "渠道名称": LeadField.CHANNEL,
    "一级渠道名称": LeadField.CHANNEL,
    "二级渠道名称": LeadField.CHANNEL,
    "一级渠道": LeadField.CHANNEL,
    "二级渠道": LeadField.CHANNEL,
    "线索渠道": LeadField.CHANNEL,
    "媒体渠道": LeadField.CHANNEL,
    "channel": LeadField.CHANNEL,
    # source (the DCC's four sources: web, manufacturer, …)
    "来源": LeadField.SOURCE,
    "source": LeadField.SOURCE,
    # received at
    "留资时间": LeadField.RECEIVED_AT,
    "下发时间": LeadField.RECEIVED_AT,
    "线索下发时间": LeadField.RECEIVED_AT,
    "分配时间": LeadField.RECEIVED_AT,
    "线索创建时间": LeadField.RECEIVED_AT,
    "创建时间": LeadField.RECEIVED_AT,
    "提交时间": LeadField.RECEIVED_AT,
    "线索提交时间": LeadField.RECEIVED_AT,
    "received_at": LeadField.RECEIVED_AT,
    # level
    "意向级别": LeadField.LEVEL,
    "客户级别": LeadField.LEVEL,
    "线索级别": LeadField.LEVEL,
    "level": LeadField.LEVEL,
    # expected purchase date
    "预计购车日期": LeadField.EXPECTED_PURCHASE_DATE,
    "预计购车时间": LeadField.EXPECTED_PURCHASE_DATE,
    "expected_purchase_date": LeadField.EXPECTED_PURCHASE_DATE,
    # owner
    "负责人": LeadField.OWNER,
    "owner": LeadField.OWNER,
    # note
    "备注": LeadField.NOTE,
    "客户备注": LeadField.NOTE,
    "留言": LeadField.NOTE,
    "note": LeadField.NOTE,
    # worth keeping, read by people: into the note
    "城市": LeadField.KEEP_IN_NOTE,
    "省份": LeadField.KEEP_IN_NOTE,
    "所在城市": LeadField.KEEP_IN_NOTE,
    "所在地区": LeadField.KEEP_IN_NOTE,
    "地区": LeadField.KEEP_IN_NOTE,
    "省份城市": LeadField.KEEP_IN_NOTE,
    "经销商": LeadField.KEEP_IN_NOTE,
    "购车预算": LeadField.KEEP_IN_NOTE,
    "线索id": LeadField.KEEP_IN_NOTE,
    "线索编号": LeadField.KEEP_IN_NOTE,
    # an owner file (DMS / after-sales export, leads.owners)
    "vin": LeadField.VIN,
    "vin码": LeadField.VIN,
    "车架号": LeadField.VIN,
    "车辆识别代号": LeadField.VIN,
    "底盘号": LeadField.VIN,
    "车牌号": LeadField.PLATE,
    "车牌": LeadField.PLATE,
    "车牌号码": LeadField.PLATE,
    "plate": LeadField.PLATE,
    "购车日期": LeadField.PURCHASED_ON,
    "购买日期": LeadField.PURCHASED_ON,
    "开票日期": LeadField.PURCHASED_ON,
    "销售日期": LeadField.PURCHASED_ON,
    "purchased_on": LeadField.PURCHASED_ON,
    "交车日期": LeadField.DELIVERED_ON,
    "交付日期": LeadField.DELIVERED_ON,
    "delivered_on": LeadField.DELIVERED_ON,
    "最近保养日期": LeadField.LAST_SERVICE_ON,
    "上次保养日期": LeadField.LAST_SERVICE_ON,
    "最近进站日期": LeadField.LAST_SERVICE_ON,
    "上次进站时间": LeadField.LAST_SERVICE_ON,
    "最后进厂日期": LeadField.LAST_SERVICE_ON,
    "last_service_on": LeadField.LAST_SERVICE_ON,
    "行驶里程": LeadField.MILEAGE_KM,
    "里程": LeadField.MILEAGE_KM,
    "进站里程": LeadField.MILEAGE_KM,
    "公里数": LeadField.MILEAGE_KM,
    "mileage_km": LeadField.MILEAGE_KM,
    "车主姓名": LeadField.NAME,
    "车主电话": LeadField.PHONE,
    "车主手机": LeadField.PHONE,
    "vehicle_model": LeadField.INTENDED_MODEL,
    # what no agent needs
    "序号": LeadField.IGNORE,
    "经销商代码": LeadField.IGNORE,
    "线索状态": LeadField.IGNORE,
    "广告主id": LeadField.IGNORE,
    "广告id": LeadField.IGNORE,
    "计划id": LeadField.IGNORE,
    "创意id": LeadField.IGNORE,
}

_SPACES = re.compile(r"[\s\u3000]+")


def normalize_header(value) -> str:
    """A header cell as looked up: trimmed, without a required-marker star
    or inner spaces, lower case (English aliases in any case)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _SPACES.sub("", str(value)).strip("*＊:：")
    return text.casefold()


def header_aliases() -> dict[str, str]:
    """Built-in aliases overlaid with the administrator's."""
    table = {normalize_header(k): str(v) for k, v in HEADER_ALIASES.items()}
    for alias in HeaderAlias.objects.all():
        table[normalize_header(alias.header)] = alias.field
    return table


def _key(text: str) -> str:
    return _SPACES.sub("", text).casefold()


@dataclass(frozen=True)
class Unknown:
    """A value no list holds, and the closest one it does (or "")."""

    value: str
    closest: str


class Resolver:
    """Channels and vehicle models by code, name or alias: one query per list,
    for a whole file (``resolve`` for one value)."""

    def __init__(self):
        self.channels: dict[str, Channel] = {}
        self.channel_names: list[str] = []
        for channel in Channel.objects.filter(is_active=True):
            self.channels[_key(channel.code)] = channel
            self.channels[_key(channel.label)] = channel
            self.channel_names.append(channel.label)
        self.models: dict[str, VehicleModel] = {}
        self.model_names: list[str] = []
        for vehicle_model in VehicleModel.objects.filter(is_active=True):
            self.models.setdefault(_key(vehicle_model.name), vehicle_model)
            self.model_names.append(vehicle_model.name)
        for alias in ValueAlias.objects.select_related("channel", "vehicle_model"):
            if alias.kind == ValueKind.CHANNEL and alias.channel and alias.channel.is_active:
                self.channels.setdefault(_key(alias.alias), alias.channel)
            elif alias.vehicle_model and alias.vehicle_model.is_active:
                self.models.setdefault(_key(alias.alias), alias.vehicle_model)

    def channel(self, text: str) -> Channel | Unknown:
        return self._find(text, self.channels, self.channel_names)

    def model(self, text: str) -> VehicleModel | Unknown:
        return self._find(text, self.models, self.model_names)

    @staticmethod
    def _find(text: str, table: dict, names: list[str]):
        found = table.get(_key(text))
        if found is not None:
            return found
        return Unknown(text, closest(text, names))


def closest(text: str, names: list[str]) -> str:
    """The known name most like ``text`` (difflib), or ""."""
    lowered = {name.casefold(): name for name in names}
    match = difflib.get_close_matches(text.casefold(), list(lowered), n=1, cutoff=0.4)
    if match:
        return lowered[match[0]]
    # A name inside the text or the text inside a name (别克GL8 / GL8 豪华版).
    for name in names:
        if name.casefold() in text.casefold() or text.casefold() in name.casefold():
            return name
    return ""


def resolve(kind: str, text: str):
    """One channel or vehicle model by code, name or alias; ``Unknown`` if none."""
    resolver = Resolver()
    return resolver.channel(text) if kind == ValueKind.CHANNEL else resolver.model(text)


def unknown_message(unknown: Unknown, what: str) -> str:
    """“Unknown channel “汽车之家网”: did you mean “汽车之家”?”"""
    if unknown.closest:
        return _("Unknown %(what)s “%(value)s”: did you mean “%(closest)s”?") % {
            "what": what,
            "value": unknown.value,
            "closest": unknown.closest,
        }
    return _("Unknown %(what)s “%(value)s”.") % {"what": what, "value": unknown.value}
