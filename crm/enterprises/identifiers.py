"""The enterprise identifiers: 统一社会信用代码 (USCC) and 海关注册编码 (customs registration code)."""

from __future__ import annotations

import re
import unicodedata

from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError

#: Company-form words and punctuation ignored when comparing names for similarity.
_COMPANY_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "集团公司", "公司", "(集团)", "（集团）")
_BRACKETS = re.compile(r"[()（）\[\]【】〔〕]")
_SPACES = re.compile(r"\s+")


def to_half_width(value: str) -> str:
    """Full-width letters, digits and punctuation (ＡＢ１２) become their ASCII forms (AB12)."""
    return unicodedata.normalize("NFKC", value)


def normalise_uscc(value: str | None) -> str:
    """Half-width, no spaces or separators, upper case: the stored form of a USCC."""
    if not value:
        return ""
    value = to_half_width(value)
    value = re.sub(r"[\s\-]", "", value)
    return value.upper()


class IdentifierError(ValueError):
    """An identifier that cannot be accepted; ``reason`` is one of length, format, checksum."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def validate_uscc(value: str | None) -> str:
    """Normalise and validate a USCC with python-stdnum; return the normalised code or raise IdentifierError."""
    code = normalise_uscc(value)
    try:
        return stdnum_uscc.validate(code)
    except InvalidLength:
        raise IdentifierError("length") from None
    except InvalidChecksum:
        raise IdentifierError("checksum") from None
    except (InvalidFormat, ValidationError):
        raise IdentifierError("format") from None


def uscc_with_check_character(first_17: str) -> str:
    """Complete the first 17 characters of a USCC with its check character (for generated demo data)."""
    return first_17 + stdnum_uscc.calc_check_digit(first_17)


def normalise_customs_code(value: str | None) -> str:
    if not value:
        return ""
    return re.sub(r"\s", "", to_half_width(value)).upper()


def customs_code_problems(value: str) -> tuple[str | None, str | None]:
    """(error, warning) for a normalised 海关注册编码.

    Ten characters are required and the first five must be digits (area, zone type); a code outside Fujian
    (not starting 35) or with letters later on is only warned about, since newer codes are not documented.
    """
    if len(value) != 10:
        return "length", None
    if not value[:5].isdigit():
        return "format", None
    if not value.isdigit():
        return None, "letters"
    if not value.startswith("35"):
        return None, "outside_fujian"
    return None, None


def name_key(name: str) -> str:
    """A comparison key for similar names: no company-form words, brackets of either width, or spaces."""
    key = to_half_width(name or "")
    key = _SPACES.sub("", key)
    for form in _COMPANY_FORMS:
        key = key.replace(to_half_width(form), "")
    key = _BRACKETS.sub("", key)
    return key.lower()
