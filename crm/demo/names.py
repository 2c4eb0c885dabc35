"""Realistic, deterministic Chinese enterprise names and identifiers for demo data."""

from __future__ import annotations

import random

from crm.enterprises.identifiers import uscc_with_check_character

BRAND_CHARACTERS = "华鑫恒达盛瑞泰源丰宏信德美嘉隆通海兴旺昌宝金鼎诚安顺利新福永建明辉祥佳凯远航联创正大成和合众力博捷"
INDUSTRIES = (
    ("电子科技", "计算机、通信和其他电子设备制造业"),
    ("鞋业", "皮革、毛皮、羽毛及其制品和制鞋业"),
    ("纺织", "纺织业"),
    ("服装", "纺织服装、服饰业"),
    ("食品", "食品制造业"),
    ("茶业", "农副食品加工业"),
    ("水产", "农副食品加工业"),
    ("机械制造", "通用设备制造业"),
    ("智能装备", "专用设备制造业"),
    ("汽车零部件", "汽车制造业"),
    ("新能源科技", "电气机械和器材制造业"),
    ("锂电科技", "电气机械和器材制造业"),
    ("光电科技", "计算机、通信和其他电子设备制造业"),
    ("新材料", "化学原料和化学制品制造业"),
    ("化工", "化学原料和化学制品制造业"),
    ("医疗器械", "专用设备制造业"),
    ("石材", "非金属矿物制品业"),
    ("陶瓷", "非金属矿物制品业"),
    ("卫浴", "金属制品业"),
    ("家居用品", "家具制造业"),
    ("工艺品", "工艺美术品制造业"),
    ("进出口贸易", "批发业"),
    ("国际贸易", "批发业"),
    ("供应链管理", "商务服务业"),
    ("国际物流", "多式联运和运输代理业"),
    ("报关服务", "多式联运和运输代理业"),
)
SUFFIXES = ("有限公司", "有限公司", "有限公司", "股份有限公司", "集团有限公司")
ADDRESS_STREETS = ("工业路", "滨海大道", "科技园路", "创业路", "港口路", "开发区大道", "湖滨路", "江滨路", "保税区路")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉鑫宇晨欣怡浩然子涵思远志明海燕"


def enterprise_name(rng: random.Random, city: str, taken: set[str]) -> tuple[str, str]:
    """A unique name such as 泉州恒达鞋业有限公司, with its industry classification."""
    for attempt in range(50):
        brand = rng.choice(BRAND_CHARACTERS) + rng.choice(BRAND_CHARACTERS)
        word, industry = rng.choice(INDUSTRIES)
        prefix = city if attempt < 20 else city + rng.choice(("", "市", "福建"))
        name = f"{prefix}{brand}{word}{rng.choice(SUFFIXES)}"
        if name not in taken:
            taken.add(name)
            return name, industry
    # Extremely crowded: disambiguate with a branch-like suffix, still realistic.
    base = f"{city}{rng.choice(BRAND_CHARACTERS)}{rng.choice(BRAND_CHARACTERS)}{word}"
    serial = 2
    while f"{base}（{serial}）有限公司" in taken:
        serial += 1
    name = f"{base}（{serial}）有限公司"
    taken.add(name)
    return name, industry


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def mobile_number(rng: random.Random) -> str:
    return rng.choice(("135", "136", "137", "138", "139", "150", "151", "158", "159", "186", "187", "189")) + "".join(
        str(rng.randrange(10)) for _ in range(8)
    )


_ORG_CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def organization_code(serial: int) -> str:
    """A 9-character 组织机构代码 (GB 11714) for a serial number: 8 digits plus its check character."""
    body = f"{(serial * 7919 + 10_000_019) % 100_000_000:08d}"
    total = sum(_ORG_CODE_ALPHABET.index(c) * w for c, w in zip(body, _ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body + ("X" if check == 10 else "0" if check == 11 else str(check))


def uscc_for(serial: int, district_code: str) -> str:
    """A valid 统一社会信用代码 for an enterprise (登记管理部门 9, 机构类别 1) registered in ``district_code``."""
    return uscc_with_check_character("91" + district_code + organization_code(serial))


def customs_code_for(area_code: str, zone: int, enterprise_type: int, sequence: int) -> str:
    """A 海关注册编码: area (4) + economic-zone type (1) + enterprise type (1) + sequence (4)."""
    return f"{area_code[:4]}{zone}{enterprise_type}{sequence:04d}"
