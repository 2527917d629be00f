"""Money through the doors finance staff use: only the ``pvmon`` command line, run as a
subprocess against the test database, as a county's clerk (``clerk``), its chief
(``chief``) and its administrator would. No engine function is called here.

The county TC has one village station (VS1) serving three households under a carry-forward
village scheme (900 yuan to each household, 100 to the collective per slot: 3,000 yuan a
year). The grid settles 3,600 kWh a year at 0.40 yuan (1,440 yuan); the tariff is 1.00,
so the subsidy is 2,160 yuan a year, paid the next year in a 60 % and a 40 % batch.
"""

from __future__ import annotations

import csv
import os
import resource
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from pvmon.privacy import id_number_check_char

_FLEET = """\
counties:
- code: TC
  name: 测试县
  province: 辽宁省
  townships:
  - code: TC-T1
    name: 城关镇
    villages:
    - {code: TC-V1, name: 一村}
households:
HOUSEHOLDS
stations:
- code: VS1
  name: 一村村级电站
  kind: village
  capacity_kwp: '187.2'
  village: TC-V1
  latitude: 41.2
  longitude: 119.4
  commissioned_on: 2016-06-01
  grid_connected_on: 2016-06-20
  tariff_ref: TV
"""

_SETUP = """\
first_dividend_on: 2017-01-01
benchmark:
  - {province: 辽宁省, from: 2015-01-01, yuan_per_kwh: "0.40"}
tariffs:
  - {tariff_ref: TV, from: 2015-01-01, yuan_per_kwh: "1.00"}
schemes:
  - code: village_slot_cf
    policy: pro_rata_carry_forward
    components:
      - {component: household, yearly_yuan: "900"}
      - {component: collective, payee_role: village_collective, yearly_yuan: "100"}
enrol:
  village_scheme: village_slot_cf
"""


def _household(n: int, *, served: bool = True) -> str:
    first17 = f"21138219800101{n:03d}"
    return (
        f"- {{file_no: TC{n:05d}, name: 张{n}, village: TC-V1, "
        f"id_number: '{first17}{id_number_check_char(first17)}', bank_name: 农村信用社, "
        f"bank_account: '62170000{n:011d}'" + (", served_by_station: VS1}" if served else "}")
    )


class County:
    """A county set up from files through the CLI, with a key file per person."""

    def __init__(self, db_url: str, root: Path) -> None:
        self.root = root
        self.env = {
            **os.environ,
            "PVMON_DATABASE_URL": db_url,
            "PVMON_DATA_DIR": str(root / "data"),
            "COLUMNS": "200",
        }
        self.env.pop("PVMON_API_KEY", None)

    def pvmon(
        self, *args: str, who: str | None = None, ok: bool = True, memory: int | None = None
    ) -> str:
        """Run ``pvmon ARGS`` (as WHO's key), within ``memory`` bytes of address space if
        given (a regression then fails instead of exhausting the machine)."""
        command = [sys.executable, "-m", "pvmon.cli"]
        if who is not None:
            command += ["dividends", "--key-file", str(self.root / f"{who}.key")]
            args = args[1:] if args[0] == "dividends" else args

        def ceiling() -> None:
            if memory is not None:
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

        done = subprocess.run(
            [*command, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=ceiling,
        )
        out = done.stdout + done.stderr
        assert "Traceback" not in out, out
        assert (done.returncode == 0) == ok, f"{args}: exit {done.returncode}\n{out}"
        return out

    def set_up(self, fleet: str, settings: str, grid: list[str]) -> None:
        """Import the fleet, make the admin, clerk and chief key files, apply the dividend
        settings and import the grid statement lines (``station,period,kWh,price,yuan``)."""
        root = self.root
        (root / "fleet.yaml").write_text(fleet, "utf-8")
        (root / "dividends.yaml").write_text(settings, "utf-8")
        header = "station,period,energy_kwh,price,amount"
        (root / "grid.csv").write_text("\n".join([header, *grid]) + "\n", "utf-8")
        self.pvmon("fleet", "import", str(root / "fleet.yaml"))
        for name, role in (("admin", "admin"), ("clerk", "finance"), ("chief", "finance")):
            self.pvmon("keys", "create", name, "--role", role, "--out", str(root / f"{name}.key"))
        self.pvmon("dividends", "setup", str(root / "dividends.yaml"), who="admin")
        self.pvmon("dividends", "cash", "import-settlements", str(root / "grid.csv"), who="clerk")

    def figures(self, out: str) -> dict[str, str]:
        """The label → value rows of a run's summary table."""
        return {
            cells[1].strip(): cells[2].strip()
            for cells in (line.split("│") for line in out.splitlines())
            if len(cells) == 4
        }

    def run_id(self, out: str) -> int:
        title = next(line for line in out.splitlines() if "dividend run " in line)
        return int(title.split("dividend run ")[1].split()[0])

    def payees(self, run: int, column: str = "金额(元)") -> dict[str, int]:
        """A column [fen] summed per payee (household file number or village) of a run's
        CSV export: the amount paid (default), or 补发欠款(元), the arrears paid."""
        path = self.root / f"run-{run}.csv"
        self.pvmon("dividends", "export", str(run), "--out", str(path), who="clerk")
        totals: dict[str, int] = {}
        with path.open(encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                if not row["运行编号"].isdigit():
                    continue
                payee = row["档案号"] or row["村"]
                yuan = row[column].replace(",", "")
                totals[payee] = totals.get(payee, 0) + round(float(yuan) * 100)
        return totals


def _county(db_url: str, root: Path, *, monthly_kwh: int = 300) -> County:
    """The county TC, its grid settling ``monthly_kwh`` a month at 0.40 yuan in 2024-2025."""
    c = County(db_url, root)
    # TC00004 is registered but holds no slot until a clerk enrols it
    households = "\n".join([*(_household(n) for n in (1, 2, 3)), _household(4, served=False)])
    line = f"{monthly_kwh},0.40,{Decimal(monthly_kwh) * Decimal('0.40'):.2f}"
    grid = [f"VS1,{y}-{m:02d},{line}" for y in (2024, 2025) for m in range(1, 13)]
    c.set_up(_FLEET.replace("HOUSEHOLDS", households), _SETUP, grid)
    return c


@pytest.fixture
def county(db_url: str, flavour: str, tmp_path: Path) -> County:
    if flavour != "postgres":
        pytest.skip("the doors drive the dividends engine; its tests run on both flavours")
    return _county(db_url, tmp_path)


def _receipts(c: County, batches: tuple[str, str] = ("1296.00", "864.00")) -> list[str]:
    """2024's subsidy (2,160 yuan) in 2025: 60 % in March, 40 % in September."""
    return [
        c.pvmon(
            "dividends",
            "cash",
            "receipt",
            "--county",
            "TC",
            "--ref",
            ref,
            "--received-on",
            on,
            "--covers",
            "2024",
            "--amount",
            amount,
            "--coverage",
            coverage,
            who="clerk",
        )
        for ref, on, amount, coverage in (
            ("SUB-2024-1", "2025-03-15", batches[0], "partial"),
            ("SUB-2024-2", "2025-09-10", batches[1], "full"),
        )
    ]


def test_accrued_pays_on_time_and_the_advances_repay_to_zero(county: County) -> None:
    c = county
    out = c.pvmon("dividends", "run", "--period", "2024", "--scope", "county:TC", who="clerk")
    run = c.run_id(out)
    f = c.figures(out)
    # the settled statement is the basis: 3,600 kWh -> 1,440 benchmark + 2,160 subsidy
    assert f["revenue [yuan]"] == "3600.00" and f["paid [yuan]"] == "3000.00", out
    assert f["stations by energy source"] == "settled 1", out
    assert f["stations by allocation basis"] == "accrued 1", out
    c.pvmon("dividends", "approve", str(run), who="chief")
    # the county advanced what the benchmark did not cover: 3,000 - 1,440
    assert "outstanding: 1560.00 yuan" in c.pvmon(
        "dividends", "cash", "advances", "--county", "TC", who="clerk"
    )
    first, second = _receipts(c)
    assert "repaid 1296.00 yuan of advances" in first
    assert "repaid 264.00 yuan of advances" in second
    ledger = c.pvmon("dividends", "cash", "advances", "--county", "TC", who="clerk")
    assert "outstanding: 0.00 yuan" in ledger and ledger.count("repayment") == 2, ledger
    assert c.payees(run) == {"TC00001": 90_000, "TC00002": 90_000, "TC00003": 90_000,
                             "一村": 30_000}  # fmt: skip
    history = c.pvmon("dividends", "history", str(run), who="clerk")
    assert "created" in history and "clerk" in history
    assert "approved" in history and "chief" in history


def test_received_pays_exactly_what_accrued_pays_once_the_second_batch_is_in(
    county: County,
) -> None:
    c = county
    c.pvmon("dividends", "cash", "basis", "received", "--county", "TC", who="chief")
    out = c.pvmon("dividends", "run", "--period", "2024", "--scope", "county:TC", who="clerk")
    y2024 = c.run_id(out)
    f = c.figures(out)
    # only the settled benchmark (1,440 yuan) is cash in 2024: paid pro rata
    assert f["revenue [yuan]"] == "1440.00" and f["paid [yuan]"] == "1440.00", out
    assert f["stations by allocation basis"] == "received 1", out
    c.pvmon("dividends", "approve", str(y2024), who="chief")
    _receipts(c)
    out = c.pvmon("dividends", "run", "--period", "2025", "--scope", "county:TC", who="clerk")
    y2025 = c.run_id(out)
    f = c.figures(out)
    # 2024's batches pay 2024's arrears (1,560) first; 2025's own cash pays 2025 pro rata
    assert f["arrears paid [yuan]"] == "1560.00", out
    assert f["paid [yuan]"] == "1440.00", out
    assert f["residual [yuan]"] == "600.00", out  # 2024's surplus, as accrued left it
    c.pvmon("dividends", "approve", str(y2025), who="chief")
    # for 2024, every payee got what accrued pays (900 per household, 3 x 100 to the
    # collective): 2024's run, plus the 2024 arrears that 2024's batches paid in 2025
    paid_2024 = c.payees(y2024)
    arrears_paid = c.payees(y2025, "补发欠款(元)")
    assert {p: paid_2024[p] + arrears_paid[p] for p in paid_2024} == {
        "TC00001": 90_000, "TC00002": 90_000, "TC00003": 90_000, "一村": 30_000,
    }  # fmt: skip
    assert 0 < paid_2024["TC00001"] < 90_000  # and 2024's run was short, as expected
    assert "outstanding: 0.00 yuan" in c.pvmon(
        "dividends", "cash", "advances", "--county", "TC", who="clerk"
    )  # nothing is advanced under received


def test_a_short_year_under_received_pays_each_payee_what_accrued_pays(
    db_url: str, flavour: str, tmp_path: Path
) -> None:
    """A year that earns less than its obligations, with unequal obligations: slot 1
    passes from TC00001 to TC00004 on 1 July, slot 2's holder leaves on 1 October. The
    grid settles 102 kWh a month (489.60 yuan of benchmark in 2024; 734.40 of subsidy,
    paid in 2025 as 440.64 and 293.76). Accrued pays each payee its share of 1,224
    yuan; received, once the second batch is in, pays each exactly the same. (Split by
    obligations and then by arrears instead of toward accrued's figures, the collective
    got 2 fen less and TC00001 and TC00004 1 fen more each; and the households whose
    enrolments had ended never got their arrears.)"""
    if flavour != "postgres":
        pytest.skip("the doors drive the dividends engine; its tests run on both flavours")
    c = _county(db_url, tmp_path, monthly_kwh=102)
    c.pvmon("dividends", "reassign", "--station", "VS1", "--slot", "1", "--to", "TC00004",
            "--on", "2024-07-01", "--reason", "left_poverty", who="clerk")  # fmt: skip
    c.pvmon("dividends", "end-enrolment", "--station", "VS1", "--slot", "2", "--on",
            "2024-10-01", "--reason", "moved", who="clerk")  # fmt: skip
    # what accrued pays for 2024: a preview, then discarded
    preview = c.run_id(c.pvmon("dividends", "run", "--period", "2024", "--scope", "county:TC",
                               who="clerk"))  # fmt: skip
    accrued = c.payees(preview)
    assert sum(accrued.values()) == 122_400 and len(accrued) == 5, accrued
    c.pvmon("dividends", "discard", str(preview), who="chief")

    c.pvmon("dividends", "cash", "basis", "received", "--county", "TC", who="chief")
    y2024 = c.run_id(c.pvmon("dividends", "run", "--period", "2024", "--scope", "county:TC",
                             who="clerk"))  # fmt: skip
    c.pvmon("dividends", "approve", str(y2024), who="chief")
    paid = c.payees(y2024)
    assert sum(paid.values()) == 48_960  # the benchmark cash of 2024
    assert all(paid[p] <= accrued[p] for p in accrued), (paid, accrued)
    _receipts(c, ("440.64", "293.76"))
    y2025 = c.run_id(c.pvmon("dividends", "run", "--period", "2025", "--scope", "county:TC",
                             who="clerk"))  # fmt: skip
    c.pvmon("dividends", "approve", str(y2025), who="chief")
    arrears_paid = c.payees(y2025, "补发欠款(元)")
    # every payee of 2024, those whose enrolments ended in 2024 too
    total = {p: paid[p] + arrears_paid.get(p, 0) for p in paid}
    assert total == accrued, (paid, arrears_paid)


def test_four_eyes_guards_and_scope_from_the_command_line(county: County) -> None:
    c = county
    out = c.pvmon("dividends", "run", "--period", "2024", "--scope", "county:TC", who="clerk")
    run = c.run_id(out)
    # the maker may not approve
    out = c.pvmon("dividends", "approve", str(run), who="clerk", ok=False)
    assert "'clerk' computed or recomputed it and may not approve it" in out
    # whoever recomputes becomes a maker too; on the same data it writes no line again
    with psycopg.connect(c.env["PVMON_DATABASE_URL"], autocommit=True) as conn:
        lines = "SELECT id, xmin::text FROM dividend_lines WHERE run_id = %s ORDER BY id"
        before = conn.execute(lines, (run,)).fetchall()
        c.pvmon("dividends", "recompute", str(run), who="chief")
        assert before and conn.execute(lines, (run,)).fetchall() == before
    out = c.pvmon("dividends", "approve", str(run), who="chief", ok=False)
    assert "may not approve it (makers: chief, clerk)" in out
    # the same person under a variant of the name is the same person
    c.pvmon("keys", "create", "CLERK", "--role", "finance", "--out", str(c.root / "CLERK.key"))
    out = c.pvmon("dividends", "approve", str(run), who="CLERK", ok=False)
    assert "'clerk' computed or recomputed it" in out
    # without a key nobody acts
    done = subprocess.run(
        [sys.executable, "-m", "pvmon.cli", "dividends", "approve", str(run)],
        env=c.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1 and "no API key" in done.stderr
    # a period that has not ended is a preview: drafted, never approved
    out = c.pvmon("dividends", "run", "--period", "2026", "--scope", "county:TC", who="clerk")
    preview = c.run_id(out)
    out = c.pvmon("dividends", "approve", str(preview), "--accept-estimates", who="chief",
                  ok=False)  # fmt: skip
    assert "period 2026 runs until 2027-01-01" in out
    c.pvmon("dividends", "discard", str(preview), "--reason", "preview", who="clerk")
    listed = c.pvmon("dividends", "list", "--status", "discarded", who="clerk")
    assert f"│ {preview} " in listed or f"{preview} " in listed
    # an unknown scope code is an error naming it, and nothing is drafted
    out = c.pvmon("dividends", "run", "--period", "2024", "--scope", "county:XX", who="clerk",
                  ok=False)  # fmt: skip
    assert "unknown county code(s) XX" in out
    # a second person approves
    c.pvmon("keys", "create", "auditor", "--role", "finance", "--out", str(c.root / "auditor.key"))
    c.pvmon("dividends", "approve", str(run), who="auditor")
    history = c.pvmon("dividends", "history", str(run), who="clerk")
    for event in ("created", "recomputed", "approved"):
        assert event in history


def test_enrolments_schemes_and_deductions_from_the_command_line(county: County) -> None:
    c = county
    # slot 1 passes from TC00001 to TC00004 on 1 July 2024 (TC00001 left poverty)
    out = c.pvmon("dividends", "reassign", "--station", "VS1", "--slot", "1", "--to", "TC00004",
                  "--on", "2024-07-01", "--reason", "left_poverty", who="clerk")  # fmt: skip
    assert "slot 1 of VS1: TC00004 from 2024-07-01" in out
    # slot 2's holder moves away on 1 October: the rest of the year is owed to nobody
    c.pvmon("dividends", "end-enrolment", "--station", "VS1", "--slot", "2", "--on",
            "2024-10-01", "--reason", "moved", who="clerk")  # fmt: skip
    # 2.9 % O&M fee before dividends
    c.pvmon("dividends", "deduction", "--kind", "om_fee", "--seq", "1", "--county", "TC",
            "--rate", "0.029", who="clerk")  # fmt: skip
    listing = c.pvmon("dividends", "enrolments", "--station", "VS1", who="clerk")
    assert "left_poverty" in listing and "TC00004" in listing and "moved" in listing
    out = c.pvmon("dividends", "run", "--period", "2024", "--scope", "stations:VS1", who="clerk")
    f = c.figures(out)
    assert f["deductions [yuan]"] == "104.40", out  # 2.9 % of 3,600 yuan
    run = c.run_id(out)
    paid = c.payees(run)
    # 2024 has 366 days: 182 for TC00001, 184 for TC00004; TC00002 274 days
    assert paid["TC00001"] + paid["TC00004"] == 90_000
    assert paid["TC00001"] == 44_754 and paid["TC00002"] == 67_377, paid
    # the station moves to the guaranteed village scheme from 2025
    out = c.pvmon("dividends", "move-scheme", "--station", "VS1", "--scheme", "village_slot",
                  "--on", "2025-01-01", who="clerk")  # fmt: skip
    assert "2 enrolment(s) under village_slot from 2025-01-01" in out  # slots 1 and 3
    listing = c.pvmon("dividends", "enrolments", "--station", "VS1", who="clerk")
    assert "scheme_ended" in listing and "village_slot " in listing
    # a new household on a new slot
    out = c.pvmon("dividends", "enrol", "--station", "VS1", "--household", "TC00002",
                  "--scheme", "village_slot", "--from", "2025-03-01", who="clerk")  # fmt: skip
    assert "TC00002 holds slot 4 of VS1" in out
    before = c.pvmon("dividends", "enrolments", "--station", "VS1", who="clerk")
    # bad input names the field and the value; nothing is written
    for args, message in (
        (("reassign", "--station", "VS1", "--slot", "3", "--to", "NOPE", "--on", "2025-05-01"),
         "--to 'NOPE': not found"),
        (("reassign", "--station", "VS9", "--slot", "3", "--to", "TC00001", "--on",
          "2025-05-01"), "--station 'VS9': not found"),
        (("end-enrolment", "--station", "VS1", "--slot", "3", "--on", "2025-13-01", "--reason",
          "moved"), "--on '2025-13-01': expected a date"),
        (("end-enrolment", "--station", "VS1", "--slot", "3", "--on", "2025-06-01", "--reason",
          "bored"), "--reason 'bored': expected one of"),
        (("end-enrolment", "--station", "VS1", "--slot", "9", "--on", "2025-06-01", "--reason",
          "moved"), "--slot 9: station VS1 has no such slot"),
        (("deduction", "--kind", "bribe", "--seq", "2", "--county", "TC", "--rate", "0.1"),
         "--kind 'bribe': expected one of"),
        (("deduction", "--kind", "tax", "--seq", "2", "--county", "TC", "--rate", "-0.1"),
         "--rate '-0.1': expected a number >= 0"),
        (("move-scheme", "--station", "VS1", "--scheme", "nope", "--on", "2026-01-01"),
         "--scheme 'nope': not found"),
    ):  # fmt: skip
        out = c.pvmon("dividends", *args, who="clerk", ok=False)
        assert message in out, out
    # the refused commands wrote nothing
    assert c.pvmon("dividends", "enrolments", "--station", "VS1", who="clerk") == before
