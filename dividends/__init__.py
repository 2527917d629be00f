"""Dividend engine: output-based payouts to the fen, approved, exported and explainable.

Modules (pure core, SQL at the edges):

- :mod:`dividends.allocation` — largest-remainder splits (tie-break: largest remainder,
  then smallest key) and the policies ``guaranteed``, ``pro_rata``,
  ``pro_rata_carry_forward``; vectorised, pure, property-tested.
- :mod:`dividends.periods` — ``2025``, ``2025-H1``, ``2025-Q3``; days.
- :mod:`dividends.schemes` — schemes as data (versioned, effective dates, components per
  payee role), slots, enrolments (the database refuses overlaps), prices, deductions.
- :mod:`dividends.revenue` — energy basis per station and period (metered + estimated
  days, or fed directly with :func:`dividends.revenue.feed_energy`) and revenue lines by part
  (``benchmark``, ``subsidy``) and source (``metered``, ``estimated``; later ``settled``...).
- :mod:`dividends.runs` — draft/recompute, four-eyes approval, exported, paid, adjustment
  runs; set-based (SQL + numpy), no loop per household per day.
- :mod:`dividends.exports` — CSV, XLSX (sheet per village + totals), bank payment file.
- :mod:`dividends.schedule` / :mod:`dividends.queries` — 20/25-year schedules (pvlib yield).
- :mod:`dividends.cli` — ``pvmon dividends ...``.

Tables (migration 0006): ``dividend_schemes``, ``dividend_scheme_components``,
``station_slots``, ``dividend_enrolments``, ``station_transfers``, ``benchmark_prices``,
``station_tariffs``, ``deduction_rules``, ``station_expected_yield``,
``station_period_energy``, ``revenue_lines``, ``dividend_runs``, ``dividend_run_units``,
``dividend_run_deductions``, ``dividend_lines``, ``dividend_payout_claims``.

Feeding energy without readings (benchmarks, imports, tests): call
``feed_energy(conn, parse_period("2025"), [(station_id, metered_wh, estimated_wh,
estimated_days), ...])``; a run then uses that row instead of ``station_energy_daily``.
"""
