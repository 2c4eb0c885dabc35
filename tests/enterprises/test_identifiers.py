"""统一社会信用代码, 海关注册编码, mobile numbers and similar names."""

import pytest

from crm.enterprises.identifiers import (
    IdentifierError,
    area_code_of_uscc,
    customs_code_problems,
    is_mainland_mobile,
    name_key,
    normalise_customs_code,
    normalise_mobile,
    normalise_uscc,
    validate_uscc,
)
from crm.enterprises.validation import check_customs_code, check_mobile, check_uscc
from tests.enterprises.conftest import corrupt_check_character, new_uscc

FULL_WIDTH = str.maketrans(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ"
)


def test_valid_code_passes_unchanged():
    code = new_uscc()
    assert validate_uscc(code) == code


def test_full_width_spaces_and_lower_case_are_normalised():
    code = new_uscc()
    typed = " " + code[:6].translate(FULL_WIDTH) + "　" + code[6:12].lower() + " - " + code[12:]
    assert normalise_uscc(typed) == code
    assert validate_uscc(typed) == code


def test_corrupted_check_character_is_a_checksum_error():
    code = corrupt_check_character(new_uscc())
    with pytest.raises(IdentifierError) as error:
        validate_uscc(code)
    assert error.value.reason == "checksum"
    _code, message = check_uscc(code)
    assert "校验码" in message or "check character" in message


@pytest.mark.parametrize(
    ("value", "reason"),
    [("91350500MA2Y", "length"), ("91350500MA2YXXXXXI", "format"), ("9135050OMA2YQTE3X1", "format")],
)
def test_wrong_length_or_characters_are_refused(value, reason):
    with pytest.raises(IdentifierError) as error:
        validate_uscc(value)
    assert error.value.reason == reason


def test_empty_code_is_required():
    assert check_uscc("")[1] is not None


def test_customs_code_rules():
    assert customs_code_problems("3502961234") == (None, None)
    assert customs_code_problems("35029612") == ("length", None)
    assert customs_code_problems("35A2961234") == ("format", None)
    assert customs_code_problems("350296123A") == (None, "letters")
    assert customs_code_problems("4403961234") == (None, "outside_fujian")
    assert normalise_customs_code(" ３５０２ ９６１２３４ ") == "3502961234"
    code, error, warning = check_customs_code("4403961234")
    assert code == "4403961234" and error is None and warning


def test_mainland_mobile_numbers():
    assert normalise_mobile("+86 138-0013-8000") == "13800138000"
    assert normalise_mobile("８６１３８００１３８０００") == "13800138000"
    assert is_mainland_mobile("13800138000")
    assert not is_mainland_mobile("12800138000")
    assert not is_mainland_mobile("0591-87654321")
    assert check_mobile("1380013800")[1] is not None
    assert check_mobile("")[1] is None


def test_similar_names_ignore_company_forms_brackets_and_spaces():
    assert name_key("泉州恒达鞋业有限公司") == name_key("泉州 恒达鞋业股份有限公司")
    assert name_key("厦门（集团）华鑫电子有限公司") == name_key("厦门(集团)华鑫电子")
    assert name_key("泉州恒达鞋业有限公司") != name_key("泉州恒达纺织有限公司")


def test_area_is_read_from_the_code():
    assert area_code_of_uscc(new_uscc("350502")) == "350500"
    assert area_code_of_uscc(new_uscc("350128")) == "350128"
    assert area_code_of_uscc("short") is None
