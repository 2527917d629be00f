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
import subprocess
import sys
from pathlib import Path

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


def _household(n: int) -> str:
    first17 = f"21138219800101{n:03d}"
    return (
        f"- {{file_no: TC{n:05d}, name: 张{n}, village: TC-V1, "
        f"id_number: '{first17}{id_number_check_char(first17)}', bank_name: 农村信用社, "
        f"bank_account: '62170000{n:011d}', served_by_station: VS1}}"
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

    def pvmon(self, *args: str, who: str | None = None, ok: bool = True) -> str:
        command = [sys.executable, "-m", "pvmon.cli"]
        if who is not None:
            command += ["dividends", "--key-file", str(self.root / f"{who}.key")]
            args = args[1:] if args[0] == "dividends" else args
        done = subprocess.run(
            [*command, *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        out = done.stdout + done.stderr
        assert "Traceback" not in out, out
        assert (done.returncode == 0) == ok, f"{args}: exit {done.returncode}\n{out}"
        return out

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


@pytest.fixture
def county(db_url: str, tmp_path: Path) -> County:
    c = County(db_url, tmp_path)
    households = "\n".join(_household(n) for n in (1, 2, 3))
    (tmp_path / "fleet.yaml").write_text(_FLEET.replace("HOUSEHOLDS", households), "utf-8")
    (tmp_path / "dividends.yaml").write_text(_SETUP, "utf-8")
    grid = ["station,period,energy_kwh,price,amount"]
    for year in (2024, 2025):
        grid += [f"VS1,{year}-{m:02d},300,0.40,120.00" for m in range(1, 13)]
    (tmp_path / "grid.csv").write_text("\n".join(grid) + "\n", "utf-8")
    c.pvmon("fleet", "import", str(tmp_path / "fleet.yaml"))
    for name, role in (("admin", "admin"), ("clerk", "finance"), ("chief", "finance")):
        c.pvmon("keys", "create", name, "--role", role, "--out", str(tmp_path / f"{name}.key"))
    c.pvmon("dividends", "setup", str(tmp_path / "dividends.yaml"), who="admin")
    c.pvmon("dividends", "cash", "import-settlements", str(tmp_path / "grid.csv"), who="clerk")
    return c


def _receipts(c: County) -> list[str]:
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
            ("SUB-2024-1", "2025-03-15", "1296.00", "partial"),
            ("SUB-2024-2", "2025-09-10", "864.00", "full"),
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


def test_four_eyes_guards_and_scope_from_the_command_line(county: County) -> None:
    c = county
    out = c.pvmon("dividends", "run", "--period", "2024", "--scope", "county:TC", who="clerk")
    run = c.run_id(out)
    # the maker may not approve
    out = c.pvmon("dividends", "approve", str(run), who="clerk", ok=False)
    assert "'clerk' computed or recomputed it and may not approve it" in out
    # whoever recomputes becomes a maker too
    c.pvmon("dividends", "recompute", str(run), who="chief")
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
