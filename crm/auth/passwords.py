"""Password policy: a minimum length and a strength estimate that rejects common and guessable passwords."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext as _

MIN_LENGTH = 10
#: zxcvbn score (0-4) a password must reach; 3 resists an offline attack on a slow hash.
MIN_SCORE = 3

#: zxcvbn's dictionaries are English: these are the words and numbers that make up the most common passwords
#: of Chinese users (leaked password lists: pinyin names and endearments, "520"/"1314" love numbers, keyboard
#: walks) and the places of this CRM, so "woaini1314520" or "Xiamen@2026" count as easy to guess.
CHINESE_COMMON_WORDS: tuple[str, ...] = (
    # endearments and number idioms
    "woaini",
    "aini",
    "woaini1314",
    "iloveyou",
    "laopo",
    "laogong",
    "baobao",
    "baobei",
    "xiaobao",
    "qinqin",
    "520",
    "521",
    "1314",
    "5201314",
    "1314520",
    "520520",
    "521521",
    "147258",
    "147258369",
    "159357",
    "168",
    "888888",
    "666666",
    "987654321",
    "123qwe",
    "qwe123",
    "1qaz2wsx",
    "1q2w3e4r",
    "zxcvbnm",
    "asdfghjkl",
    "qq123456",
    "a123456",
    "abc123456",
    "aa123456",
    "woshishui",
    "nihao",
    "mima",
    "mimamima",
    "wodemima",
    # the most frequent surnames and given-name syllables in leaked Chinese passwords
    "zhang",
    "wang",
    "li",
    "liu",
    "chen",
    "yang",
    "huang",
    "zhao",
    "wu",
    "zhou",
    "xu",
    "sun",
    "ma",
    "zhu",
    "hu",
    "guo",
    "he",
    "lin",
    "luo",
    "gao",
    "zheng",
    "xie",
    "tang",
    "cai",
    "lu",
    "jiang",
    "wei",
    "fang",
    "zhangwei",
    "wangwei",
    "wangfang",
    "liwei",
    "liuyang",
    "zhangmin",
    "wangjing",
    "lijing",
    "liuwei",
    "xiaoming",
    "xiaohong",
    "xiaoyu",
    "tianshi",
    "long",
    "tiantian",
    "haha",
    "hehe",
    # this CRM's world
    "fujian",
    "fuzhou",
    "xiamen",
    "quanzhou",
    "zhangzhou",
    "putian",
    "sanming",
    "nanping",
    "longyan",
    "ningde",
    "pingtan",
    "minjiang",
    "haiguan",
    "shangwu",
    "aeo",
    "crm",
    "admin",
    "customs",
    "gaoji",
)


def password_problems(password: str, user_inputs: Iterable[str] = ()) -> list[str]:
    """Why a password is refused, as messages for the user; empty when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return [_("The password must have at least %(n)d characters.", n=MIN_LENGTH)]
    if len(password) > 128:
        return [_("The password must have at most 128 characters.")]
    words = [value for value in user_inputs if value] + list(CHINESE_COMMON_WORDS)
    from zxcvbn import zxcvbn  # its dictionaries are 12 MB: loaded by the first password check, not by every process

    result = zxcvbn(password[:100], user_inputs=words)
    if result["score"] < MIN_SCORE:
        return [_("This password is too common or too easy to guess; use a longer mix of words, digits and symbols.")]
    return []
