"""Typed errors of the county cash side, all under :class:`dividends.errors.DividendError`."""

from __future__ import annotations

from dividends.errors import DividendError
from pvmon.errors import NotFoundError, ValidationError

__all__ = [
    "CashError",
    "PlanNotFoundError",
    "PlanOverBudgetError",
    "PlanStateError",
    "ReceiptError",
    "SettlementImportError",
]


class CashError(DividendError):
    """A cash operation was refused."""


class SettlementImportError(CashError, ValidationError):
    """A settlement statement was rejected; ``problems`` name file, row and field."""


class ReceiptError(CashError, ValidationError):
    """A subsidy receipt does not fit what is outstanding (the message gives the figures)."""


class PlanNotFoundError(CashError, NotFoundError):
    """No village plan with that id."""


class PlanOverBudgetError(CashError, ValidationError):
    """A village plan spends more than the collective has received (figures in the message)."""


class PlanStateError(CashError):
    """The plan or plan payout run is not in a state that allows the operation."""
