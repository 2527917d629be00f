"""Typed errors of the dividend engine, all under :class:`pvmon.errors.PvmonError`."""

from __future__ import annotations

from pvmon.errors import NotFoundError, PvmonError, ValidationError

__all__ = [
    "DividendError",
    "DoublePaymentError",
    "EstimatesNotAcknowledgedError",
    "FourEyesError",
    "FrozenRunError",
    "MissingPriceError",
    "RunNotFoundError",
    "RunStateError",
]


class DividendError(PvmonError):
    """A dividend operation was refused or failed."""


class RunNotFoundError(DividendError, NotFoundError):
    """No dividend run with that id."""


class RunStateError(DividendError):
    """The run is not in a state that allows the operation (e.g. recomputing an approved run)."""


class FrozenRunError(RunStateError):
    """The database refused to change a run that is no longer a draft."""


class FourEyesError(DividendError):
    """The approver is the run's creator; a second person must approve."""


class DoublePaymentError(DividendError):
    """A payee would be paid twice for the same period (refused by the database)."""


class MissingPriceError(DividendError, ValidationError):
    """A station has no benchmark price or tariff in force for the period."""


class EstimatesNotAcknowledgedError(RunStateError):
    """A run with much estimated energy is approved without acknowledging the estimates."""
