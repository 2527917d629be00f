"""Village distribution plans (四议两公开) and their payout runs (SQL edge).

A plan spends the village collective's available revenue of a year on the categories the
national rules allow (:data:`dividends.cash.pure.PLAN_CATEGORIES`). Its chain: ``drafted``
(village) → ``reviewed`` (township) → ``filed`` (county); the township or county can send
it back (``sent_back``, with a reason); every step is a ``village_plan_events`` row (who,
when, why). Only a filed plan is paid, through a plan payout run with the same four eyes
as dividend runs (creator ≠ approver) and a CSV export with masked personal data.

The collective's available revenue [fen] for a year = what approved dividend runs of that
year gave it (its collective lines and the residual of its units owned by the village
collective) − advances still outstanding for its units (cash not yet received) − what its
other plans of the year (not sent back) already spend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg

from dividends.cash.errors import PlanNotFoundError, PlanOverBudgetError, PlanStateError
from dividends.cash.pure import PLAN_CATEGORIES, plan_budget_problem
from dividends.errors import FourEyesError
from pvmon.errors import NotFoundError, ValidationError
from pvmon.privacy import mask_name
from pvmon.sheets import Money, SafeCsvWriter

__all__ = [
    "PlanLine",
    "approve_plan_payout",
    "collective_available",
    "create_plan_payout",
    "draft_plan",
    "export_plan_payout",
    "file_plan",
    "plan_events",
    "review_plan",
    "send_back_plan",
]


@dataclass(frozen=True)
class PlanLine:
    """One payee of a plan: category, payee name (and household, when it is one), [fen]."""

    category: str
    payee_name: str
    amount_fen: int
    household_id: int | None = None
    description: str = ""


def _village(conn: psycopg.Connection, code: str) -> int:
    row = conn.execute("SELECT id FROM villages WHERE code = %s", (code,)).fetchone()
    if row is None:
        raise NotFoundError(f"village {code!r}: not found")
    return int(row[0])


def collective_available(
    conn: psycopg.Connection, *, village_id: int, year: int, exclude_plan: int | None = None
) -> int:
    """What the collective of ``village_id`` has to spend in ``year`` [fen] (see module)."""
    row = conn.execute(
        """
        WITH runs AS (
            SELECT id FROM dividend_runs
             WHERE status <> 'draft' AND extract(year FROM period_start) = %(y)s
        )
        SELECT
          coalesce((SELECT sum(l.amount_fen) FROM dividend_lines l JOIN runs r ON r.id = l.run_id
                     WHERE l.payee_kind = 'collective' AND l.payee_id = %(v)s), 0)
        + coalesce((SELECT sum(u.residual_fen) FROM dividend_run_units u
                      JOIN runs r ON r.id = u.run_id
                     WHERE u.village_id = %(v)s AND u.residual_owner = 'village_collective'), 0)
        - coalesce((SELECT sum(b.outstanding_fen) FROM cash_advance_balances b
                      JOIN runs r ON r.id = b.run_id WHERE b.village_id = %(v)s), 0)
        - coalesce((SELECT sum(pl.amount_fen) FROM village_plan_lines pl
                      JOIN village_plans p ON p.id = pl.plan_id
                     WHERE p.village_id = %(v)s AND p.year = %(y)s AND p.status <> 'sent_back'
                       AND p.id IS DISTINCT FROM %(x)s), 0)
        """,
        {"v": village_id, "y": year, "x": exclude_plan},
    ).fetchone()
    return int(row[0]) if row else 0


def draft_plan(
    conn: psycopg.Connection,
    *,
    village: str,
    year: int,
    lines: list[PlanLine],
    drafted_by: str,
) -> int:
    """Record a drafted plan; refused with the figures when it spends more than available."""
    problems = [
        f"line {i}: category: {ln.category!r} is not one of {list(PLAN_CATEGORIES)}"
        for i, ln in enumerate(lines, start=1)
        if ln.category not in PLAN_CATEGORIES
    ]
    problems += [
        f"line {i}: payee_name: empty" for i, ln in enumerate(lines, start=1) if not ln.payee_name
    ]
    if not lines:
        problems.append("lines: a plan needs at least one payee line")
    if problems:
        raise ValidationError(problems[0], problems)
    vid = _village(conn, village)
    with conn.transaction():
        conn.execute("SELECT id FROM villages WHERE id = %s FOR UPDATE", (vid,))
        available = collective_available(conn, village_id=vid, year=year)
        why = plan_budget_problem(
            available_fen=available, lines_fen=[ln.amount_fen for ln in lines]
        )
        if why:
            raise PlanOverBudgetError(f"village {village} plan {year}: {why}")
        row = conn.execute(
            "INSERT INTO village_plans (village_id, year, available_fen, drafted_by)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            (vid, year, available, drafted_by),
        ).fetchone()
        assert row is not None
        plan = int(row[0])
        conn.cursor().executemany(
            "INSERT INTO village_plan_lines (plan_id, line_no, category, household_id,"
            " payee_name, description, amount_fen) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (plan, i, ln.category, ln.household_id, ln.payee_name, ln.description,
                 ln.amount_fen)
                for i, ln in enumerate(lines, start=1)
            ],
        )  # fmt: skip
        conn.execute(
            "INSERT INTO village_plan_events (plan_id, step, actor) VALUES (%s, 'drafted', %s)",
            (plan, drafted_by),
        )
    return plan


def _step(
    conn: psycopg.Connection, plan_id: int, *, to: str, allowed: tuple[str, ...], by: str,
    reason: str = "",
) -> None:  # fmt: skip
    if not by.strip():
        raise ValidationError(f"plan {plan_id}: {to}: who did it must be named")
    with conn.transaction():
        row = conn.execute(
            "SELECT status FROM village_plans WHERE id = %s FOR UPDATE", (plan_id,)
        ).fetchone()
        if row is None:
            raise PlanNotFoundError(f"village plan {plan_id}: not found")
        if row[0] not in allowed:
            raise PlanStateError(
                f"village plan {plan_id}: status is {row[0]}; {to} needs {' or '.join(allowed)}"
            )
        conn.execute("UPDATE village_plans SET status = %s WHERE id = %s", (to, plan_id))
        conn.execute(
            "INSERT INTO village_plan_events (plan_id, step, actor, reason)"
            " VALUES (%s, %s, %s, %s)",
            (plan_id, to, by, reason),
        )


def review_plan(conn: psycopg.Connection, plan_id: int, *, by: str) -> None:
    """The township reviewed the plan: drafted → reviewed."""
    _step(conn, plan_id, to="reviewed", allowed=("drafted",), by=by)


def file_plan(conn: psycopg.Connection, plan_id: int, *, by: str) -> None:
    """The county filed the plan: reviewed → filed (it can now be paid)."""
    _step(conn, plan_id, to="filed", allowed=("reviewed",), by=by)


def send_back_plan(conn: psycopg.Connection, plan_id: int, *, by: str, reason: str) -> None:
    """The township or county sends the plan back with a reason; it can no longer be paid
    (the village drafts a new one)."""
    if not reason.strip():
        raise ValidationError(f"plan {plan_id}: sending back needs a reason")
    _step(conn, plan_id, to="sent_back", allowed=("drafted", "reviewed"), by=by, reason=reason)


def plan_events(conn: psycopg.Connection, plan_id: int) -> list[tuple[str, str, str]]:
    """The approval chain: (step, actor, reason) in order."""
    rows = conn.execute(
        "SELECT step, actor, reason FROM village_plan_events WHERE plan_id = %s ORDER BY id",
        (plan_id,),
    ).fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def create_plan_payout(conn: psycopg.Connection, plan_id: int, *, created_by: str) -> int:
    """A draft payout run of a filed plan's lines; refused for any other status."""
    with conn.transaction():
        row = conn.execute(
            "SELECT status FROM village_plans WHERE id = %s FOR UPDATE", (plan_id,)
        ).fetchone()
        if row is None:
            raise PlanNotFoundError(f"village plan {plan_id}: not found")
        if row[0] != "filed":
            raise PlanStateError(
                f"village plan {plan_id}: status is {row[0]}; only a plan filed with the county "
                "can be paid"
            )
        run = conn.execute(
            "INSERT INTO plan_payout_runs (plan_id, created_by) VALUES (%s, %s) RETURNING id",
            (plan_id, created_by),
        ).fetchone()
        assert run is not None
        conn.execute(
            """INSERT INTO plan_payout_lines (run_id, plan_id, line_no, category, household_id,
                   payee_name, amount_fen)
               SELECT %s, plan_id, line_no, category, household_id, payee_name, amount_fen
                 FROM village_plan_lines WHERE plan_id = %s""",
            (run[0], plan_id),
        )
    return int(run[0])


def approve_plan_payout(conn: psycopg.Connection, run_id: int, *, approved_by: str) -> None:
    """Approve a plan payout run: a user other than its creator (four eyes)."""
    with conn.transaction():
        row = conn.execute(
            "SELECT status, created_by FROM plan_payout_runs WHERE id = %s FOR UPDATE", (run_id,)
        ).fetchone()
        if row is None:
            raise PlanNotFoundError(f"plan payout run {run_id}: not found")
        if row[0] != "draft":
            raise PlanStateError(f"plan payout run {run_id}: status is {row[0]}, not draft")
        if not approved_by.strip() or approved_by == row[1]:
            raise FourEyesError(
                f"plan payout run {run_id}: approved_by {approved_by!r} must be a user other "
                f"than its creator {row[1]!r}"
            )
        conn.execute(
            "UPDATE plan_payout_runs SET status = 'approved', approved_by = %s,"
            " approved_at = now() WHERE id = %s",
            (approved_by, run_id),
        )


def export_plan_payout(conn: psycopg.Connection, run_id: int, path: Path) -> int:
    """CSV of an approved plan payout run (names masked, amounts in yuan); returns the total
    [fen] and marks the run exported."""
    row = conn.execute("SELECT status FROM plan_payout_runs WHERE id = %s", (run_id,)).fetchone()
    if row is None:
        raise PlanNotFoundError(f"plan payout run {run_id}: not found")
    if row[0] == "draft":
        raise PlanStateError(f"plan payout run {run_id}: a draft cannot be exported")
    lines = conn.execute(
        "SELECT line_no, category, payee_name, amount_fen FROM plan_payout_lines"
        " WHERE run_id = %s ORDER BY line_no",
        (run_id,),
    ).fetchall()
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = SafeCsvWriter(fh)
        w.writerow(["序号", "类别", "收款人", "金额(元)"])
        for n, cat, name, fen in lines:
            w.writerow([n, cat, mask_name(name), Money(int(fen))])
        w.writerow(["合计", "", "", Money(sum(int(x[3]) for x in lines))])
    conn.execute(
        "UPDATE plan_payout_runs SET status = 'exported', exported_at = now() WHERE id = %s",
        (run_id,),
    )
    return sum(int(x[3]) for x in lines)
