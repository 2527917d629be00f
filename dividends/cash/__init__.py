"""County cash: grid settlements, late subsidies, advances, village plans, disclosure.

Built on the dividend engine (:mod:`dividends`), narrowly:

- :mod:`dividends.cash.settlements` — grid statements (CSV/XLSX) into ``grid_settlements``
  (and revenue lines part ``benchmark``, source ``settled``); settled energy becomes the
  engine's energy basis through :func:`dividends.revenue.feed_energy`; reconciliation
  against inverter-metered energy with a tolerance.
- :mod:`dividends.cash.ledger` — subsidy receipts allocated by outstanding accrued subsidy
  (largest remainder), the allocation basis setting (``accrued``/``received``) and the
  advance ledger (repaid oldest first). The engine reads the basis itself: ``received``
  stations are allocated from the cash of the run period
  (:func:`dividends.revenue.write_revenue_basis`) in every run, recompute and adjustment.
- :mod:`dividends.cash.pure` — the pure rules (property-tested).

Tables (migration 0008): ``grid_settlements``, ``subsidy_receipts``,
``subsidy_receipt_lines``, ``cash_allocation_basis``, ``cash_advances``,
``cash_advance_repayments`` (view ``cash_advance_balances``), ``village_plans``,
``village_plan_lines``, ``village_plan_events``, ``plan_payout_runs``, ``plan_payout_lines``.
"""

from __future__ import annotations

from dividends.cash.position import CashPosition, cash_position

__all__: list[str] = ["CashPosition", "cash_position"]
