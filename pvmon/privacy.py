"""Personal data: checking and masking ID numbers, bank accounts and names.

Every API response, log line and dashboard shows personal data through these
functions unless the caller's role needs the full value.
"""

from __future__ import annotations

__all__ = [
    "id_number_check_char",
    "id_number_problem",
    "mask_bank_account",
    "mask_id_number",
    "mask_name",
]

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_check_char(first17: str) -> str:
    """GB 11643-1999 check character for the first 17 digits of an ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def id_number_problem(value: str) -> str | None:
    """Why ``value`` is not a valid 18-character resident ID number, or None if it is."""
    if len(value) != 18:
        return f"must have 18 characters, has {len(value)}"
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        return "must be 17 digits followed by a digit or X"
    month, day = int(value[10:12]), int(value[12:14])
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return "birth date part is not a date"
    if id_number_check_char(value[:17]) != value[17]:
        return "check digit does not match (GB 11643)"
    return None


def mask_id_number(value: str | None) -> str | None:
    """``211382199003071234`` → ``2113**********1234``."""
    if not value:
        return value
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_bank_account(value: str | None) -> str | None:
    """Keep the last four digits: ``6217000012345678901`` → ``***************8901``."""
    if not value:
        return value
    return "*" * (len(value) - 4) + value[-4:]


def mask_name(value: str | None) -> str | None:
    """Customary public masking of a Chinese name: 张三丰 → 张*丰, 张三 → 张*."""
    if not value:
        return value
    if len(value) == 1:
        return value
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]
