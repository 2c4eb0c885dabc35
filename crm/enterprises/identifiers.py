"""The enterprise identifiers: 统一社会信用代码 (USCC) and 海关注册编码 (customs registration code)."""

from __future__ import annotations

import re
import unicodedata

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
    from stdnum.cn import uscc as stdnum_uscc  # python-stdnum loads lazily: most processes validate no code
    from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError

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
    from stdnum.cn import uscc as stdnum_uscc

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


_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_PHONE = re.compile(r"^[0-9+()\-\s]{5,24}(?:(?:转|ext\.?|x)\s*\d{1,6})?$", re.IGNORECASE)


def normalise_mobile(value: str | None) -> str:
    """Half-width digits only, without spaces, dashes or the +86 / 0086 country prefix."""
    if not value:
        return ""
    value = re.sub(r"[\s\-()]", "", to_half_width(value))
    for prefix in ("+86", "0086"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    if value.startswith("86") and len(value) == 13:
        value = value[2:]
    return value


def is_mainland_mobile(value: str) -> bool:
    """A mainland China mobile number: 11 digits starting 13-19 (after ``normalise_mobile``)."""
    return bool(_MOBILE.match(value))


def normalise_phone(value: str | None) -> str:
    return re.sub(r"\s+", " ", to_half_width(value or "")).strip()


def is_phone(value: str) -> bool:
    """A landline or other number: digits with the usual separators and an optional extension."""
    return bool(_PHONE.match(value)) and sum(ch.isdigit() for ch in value) >= 5


def area_code_of_uscc(code: str) -> str | None:
    """The 设区市 code (350500, or 350128 for Pingtan) of the registration authority encoded in a USCC."""
    if len(code) != 18 or not code[2:8].isdigit():
        return None
    division = code[2:8]
    if division == "350128":
        return division
    return division[:4] + "00"
