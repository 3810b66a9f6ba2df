import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qunli.core.identifiers import (
    _ID_CHECK,
    _ID_WEIGHTS,
    InvalidIdentifier,
    id_check_digit,
    make_id_number,
    make_uscc,
    validate_division_code,
    validate_id_number,
    validate_phone,
    validate_uscc,
)

# Published examples: GB 11643 annex example and a real-format USCC.
KNOWN_ID = "11010519491231002X"


def test_known_id_number_is_valid_and_normalized():
    assert validate_id_number(" 11010519491231002x ") == KNOWN_ID


@pytest.mark.parametrize("value, reason", [
    ("110105194912310021", "校验位错误（应为X）"),
    ("11010519491231002", "应为18位"),
    ("1101051949123100AX", "只能由17位数字"),
    ("990105194912310025", "地区码"),
    ("110105194902300027", "出生日期“19490230”不存在"),
    ("110105290001010024", "不在合理范围内"),
])
def test_bad_id_numbers_are_refused_with_the_reason(value, reason):
    with pytest.raises(InvalidIdentifier, match=reason):
        validate_id_number(value, today=dt.date(2026, 11, 23))


@given(st.text("0123456789", min_size=17, max_size=17))
def test_check_digit_is_the_weighted_sum_of_gb_11643(first17):
    assert id_check_digit(first17) == _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def test_full_width_input_from_a_chinese_input_method_reads_as_ascii():
    assert validate_id_number("１１０１０５１９４９１２３１００２ｘ") == KNOWN_ID
    assert validate_id_number("１１０１０５１９４９１２３１００２Ｘ\u3000") == KNOWN_ID
    assert validate_phone("１３８\u3000１２３４\u3000５６７８") == "13812345678"
    assert validate_phone("０７３１－１２３４５６７８") == "0731-12345678"
    assert validate_phone("13８1234567８") == "13812345678"
    assert validate_division_code("４２０１０２") == "420102"


def test_digits_of_other_scripts_are_refused_not_stored():
    """Python's \\d matches Arabic-Indic digits too; a phone or ID number made of them would be
    stored unusable and escape deduplication."""
    with pytest.raises(InvalidIdentifier):
        validate_phone("١٣٨١٢٣٤٥٦٧٨")
    with pytest.raises(InvalidIdentifier, match="只能由17位数字"):
        validate_id_number("11010519491231002" + "٣")


regions = st.sampled_from(["110105", "430121", "440305", "650102", "820000"])
births = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2026, 1, 1))


@given(regions, births, st.integers(0, 999))
def test_every_generated_id_validates(region, birth, seq):
    assert validate_id_number(make_id_number(region, birth, seq), today=dt.date(2026, 11, 23))


@given(regions, births, st.integers(0, 999), st.integers(0, 16), st.sampled_from("0123456789"))
def test_any_single_digit_change_is_caught(region, birth, seq, pos, digit):
    good = make_id_number(region, birth, seq)
    bad = good[:pos] + digit + good[pos + 1:]
    if bad == good:
        return
    try:
        validate_id_number(bad, today=dt.date(2026, 11, 23))
    except InvalidIdentifier:
        return
    # A changed digit that still validates would need the same weighted sum mod 11,
    # which a single-digit change can never give.
    pytest.fail(f"{bad} accepted; check digit {id_check_digit(bad[:17])}")


@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes_the_validator(text):
    try:
        validate_id_number(text)
    except InvalidIdentifier:
        pass


def test_uscc_check_character():
    code = make_uscc("91", "430121", "MA4L12345")
    assert validate_uscc(code) == code
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    with pytest.raises(InvalidIdentifier, match="校验位错误"):
        validate_uscc(wrong)
    with pytest.raises(InvalidIdentifier, match="不允许的字符"):
        validate_uscc("91430121MA4L1234IO")


@pytest.mark.parametrize("code, ok", [("430121", True), ("430121100", True), ("430121100201", True),
                                      ("43012", False), ("990000", False), ("430021", False)])
def test_division_codes(code, ok):
    if ok:
        assert validate_division_code(code) == code
    else:
        with pytest.raises(InvalidIdentifier):
            validate_division_code(code)
