from __future__ import annotations

import pytest

from pvmon.privacy import (
    id_number_problem,
    mask_bank_account,
    mask_id_number,
    mask_name,
)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("11010519491231002X", None),
        ("440524188001010014", None),
        ("110105194912310021", "check digit"),
        ("11010519491231002", "18 characters"),
        ("1101051949123100XX", "17 digits"),
        ("110105194913310021", "birth date"),
        ("", "18 characters"),
    ],
)
def test_id_number_problem(value: str, problem: str | None) -> None:
    found = id_number_problem(value)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize(
    ("function", "value", "masked"),
    [
        (mask_id_number, "11010519491231002X", "1101**********002X"),
        (mask_id_number, None, None),
        (mask_bank_account, "6217000012345678901", "***************8901"),
        (mask_bank_account, "", ""),
        (mask_name, "张三丰", "张*丰"),
        (mask_name, "张三", "张*"),
        (mask_name, "欧阳小明", "欧**明"),
        (mask_name, "张", "张"),
    ],
)
def test_masking(function, value, masked) -> None:  # type: ignore[no-untyped-def]
    assert function(value) == masked
