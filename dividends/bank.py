"""The bank payment file of an approved run, in a layout that is data.

A layout is a TOML file (the ones pvmon ships are in ``dividends/banklayouts/``; a county
may pass its own file): ``format`` (``csv`` or ``xlsx``), ``encoding`` and ``delimiter``
(CSV), ``amount`` (``yuan``: two decimals, or ``fen``: an integer), ``headings``
(a heading row or not), ``columns`` (each a ``heading`` and a ``field``, or a constant
``value``), and ``header``/``footer`` lines whose cells may name ``{count}``, ``{total}``,
``{period}``, ``{run}`` and ``{purpose}``: the count and total the bank checks.

Fields: ``seq`` (from 1), ``name``, ``id_number``, ``bank_name``, ``account``, ``amount``
(the sum of the household's lines), ``purpose`` (``光伏收益分红 <period> 运行<run>``),
``file_no``, ``village``, ``township``.

A bank file is real or not written: only a role that may see bank accounts produces one
(anyone else gets :class:`~pvmon.errors.ForbiddenError`, nothing written, nothing marked);
every household with money must have a name, an ID number and an account that the
layout's encoding can carry, without control characters (else one
:class:`~pvmon.errors.ValidationError` names each household and field); the file is
written whole (temporary file, then renamed), and only then is the run marked
``exported``, with the layout, count, total and the file's SHA-256 in its history. A
re-export is allowed and recorded the same way. Collectives are paid by county transfer
and are not in the bank file.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from dividends.errors import RunStateError
from dividends.runs import mark_exported, run_summary
from pvmon.errors import ConfigError, ForbiddenError, ValidationError
from pvmon.sheets import Money, SafeCsvWriter, append_row, new_sheet, yuan

__all__ = [
    "DEFAULT_LAYOUT",
    "FIELDS",
    "BankFile",
    "BankLayout",
    "export_bank_file",
    "layout_names",
    "load_layout",
    "render_bank_file",
]

DEFAULT_LAYOUT = "pvmon-csv"
FIELDS = frozenset(
    {"seq", "name", "id_number", "bank_name", "account", "amount", "purpose", "file_no",
     "village", "township"}
)  # fmt: skip
_REQUIRED = ("name", "id_number", "account")
_LAYOUTS = Path(__file__).with_name("banklayouts")
_PAYEES = """
SELECT h.id, h.file_no, h.name, h.id_number, h.bank_name, h.bank_account, v.name, tw.name,
       sum(l.amount_fen)::bigint
  FROM dividend_lines l
  JOIN households h ON h.id = l.payee_id
  JOIN villages v ON v.id = h.village_id JOIN townships tw ON tw.id = v.township_id
 WHERE l.run_id = %s AND l.payee_kind = 'household'
 GROUP BY h.id, v.id, tw.id
HAVING sum(l.amount_fen) <> 0
 ORDER BY tw.code, v.code, h.file_no
"""


@dataclass(frozen=True)
class BankLayout:
    """A bank file layout (see the module docstring)."""

    name: str
    description: str
    format: str
    encoding: str
    delimiter: str
    amount: str
    headings: bool
    columns: tuple[tuple[str, str | None, str], ...]  # heading, field, constant value
    header: tuple[tuple[str, ...], ...]
    footer: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class BankFile:
    """What an export wrote: the file, its payees, total [fen] and checksum."""

    path: Path
    layout: str
    rows: int
    total_fen: int
    sha256: str


def layout_names() -> list[str]:
    """The layouts pvmon ships."""
    return sorted(p.stem for p in _LAYOUTS.glob("*.toml"))


def load_layout(name_or_path: str, *, allow_file: bool = False) -> BankLayout:
    """A shipped layout by name or (``allow_file``: the CLI, not the API) a layout
    ``.toml`` file; every problem named with its key."""
    path = Path(name_or_path)
    if not (allow_file and path.suffix == ".toml" and path.is_file()):
        if name_or_path not in layout_names():
            raise ValidationError(
                f"bank layout {name_or_path!r}: not one of {', '.join(layout_names())}"
                + (" nor a layout .toml file" if allow_file else "")
            )
        path = _LAYOUTS / f"{name_or_path}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError(f"bank layout {path.name}: cannot be read: {exc}") from exc
    return _parse_layout(path.stem, data, where=path.name)


def _parse_layout(name: str, data: dict[str, Any], *, where: str) -> BankLayout:
    problems: list[str] = []
    fmt = data.get("format", "csv")
    if fmt not in ("csv", "xlsx"):
        problems.append(f"{where}: format: {fmt!r} is not csv or xlsx")
    encoding = str(data.get("encoding", "utf-8-sig"))
    try:
        "".encode(encoding)
    except LookupError:
        problems.append(f"{where}: encoding: {encoding!r} is not an encoding")
    if data.get("amount", "yuan") not in ("yuan", "fen"):
        problems.append(f"{where}: amount: {data.get('amount')!r} is not yuan or fen")
    delimiter = str(data.get("delimiter", ","))
    if len(delimiter) != 1:
        problems.append(f"{where}: delimiter: must be one character")
    columns = []
    for i, col in enumerate(data.get("columns") or [], start=1):
        field, value = col.get("field"), col.get("value")
        if (field is None) == (value is None) or (field is not None and field not in FIELDS):
            problems.append(
                f"{where}: columns[{i}]: needs a field ({', '.join(sorted(FIELDS))}) or a value"
            )
        columns.append((str(col.get("heading", "")), field, str(value or "")))
    if not columns:
        problems.append(f"{where}: columns: at least one column is needed")
    lines = {k: tuple(tuple(str(c) for c in line) for line in data.get(k, [])) for k in
             ("header", "footer")}  # fmt: skip
    if problems:
        raise ValidationError(problems[0], problems)
    return BankLayout(
        name=name, description=str(data.get("description", "")), format=fmt,
        encoding=encoding, delimiter=delimiter, amount=str(data.get("amount", "yuan")),
        headings=bool(data.get("headings", True)), columns=tuple(columns),
        header=lines["header"], footer=lines["footer"],
    )  # fmt: skip


def _fill(template: str, *, count: int, total: int, layout: BankLayout, **text: object) -> object:
    """A header/footer cell: ``{count}`` and ``{total}`` alone stay typed (XLSX)."""
    if template == "{count}":
        return count
    if template == "{total}":
        return _amount(total, layout)
    return template.format(count=count, total=yuan(total), **text)


def _amount(fen: int, layout: BankLayout) -> object:
    if layout.format == "xlsx":
        return Money(fen) if layout.amount == "yuan" else fen
    return yuan(fen) if layout.amount == "yuan" else str(fen)


def _check(payees: list[dict[str, Any]], layout: BankLayout) -> None:
    problems = []
    used = {f for _h, f, _v in layout.columns if f}
    for p in payees:
        who = f"household {p['file_no']}"
        for field in _REQUIRED:
            if not p[field]:
                problems.append(f"{who}: {field} is missing (fix the registry first)")
        for field in used - {"seq", "amount", "purpose"}:
            text = str(p[field] or "")
            if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
                problems.append(f"{who}: {field} contains a control character")
            if layout.format == "csv":
                try:
                    text.encode(layout.encoding)
                except UnicodeEncodeError:
                    problems.append(
                        f"{who}: {field} has characters that {layout.encoding} cannot carry"
                        f" (layout {layout.name})"
                    )
    if problems:
        raise ValidationError(f"{len(problems)} problem(s) in the bank file: {problems[0]}",
                              problems)  # fmt: skip


def render_bank_file(
    payees: list[dict[str, Any]], layout: BankLayout, *, period: str, run_id: int
) -> bytes:
    """The file's bytes for ``payees`` (dicts of :data:`FIELDS` but ``seq``/``purpose``)."""
    _check(payees, layout)
    purpose = f"光伏收益分红 {period} 运行{run_id}"
    values: dict[str, Any] = {"count": len(payees), "total": sum(p["amount"] for p in payees),
              "period": period, "run": run_id, "purpose": purpose}  # fmt: skip
    rows: list[list[object]] = []
    for seq, p in enumerate(payees, start=1):
        payee = {**p, "seq": seq, "purpose": purpose}
        rows.append([
            _amount(payee["amount"], layout) if f == "amount" else (payee[f] if f else v)
            for _h, f, v in layout.columns
        ])  # fmt: skip
    header = [[_fill(c, layout=layout, **values) for c in line] for line in layout.header]
    footer = [[_fill(c, layout=layout, **values) for c in line] for line in layout.footer]
    headings = [h for h, _f, _v in layout.columns]
    if layout.format == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = new_sheet(wb, "代发明细", headings if layout.headings else [], rows, lead=header)
        for values_row in rows:
            append_row(ws, values_row)
        for footer_line in footer:
            append_row(ws, footer_line, bold=True)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
    text = io.StringIO()
    out = SafeCsvWriter(text, delimiter=layout.delimiter)
    heading_rows: list[list[object]] = [[*headings]] if layout.headings else []
    for line in [*header, *heading_rows, *rows, *footer]:
        out.writerow(line)
    return text.getvalue().encode(layout.encoding)


def export_bank_file(
    conn: psycopg.Connection,
    run_id: int,
    path: Path,
    *,
    by: str,
    may_see_accounts: bool,
    layout: BankLayout | None = None,
) -> BankFile:
    """Write the bank file of an approved (or exported) run to ``path`` and mark the run
    exported by ``by`` (see the module docstring for what is refused)."""
    if not may_see_accounts:
        raise ForbiddenError(
            f"dividend run {run_id}: a bank file needs a role that sees bank accounts"
            " (finance or admin); nothing was written"
        )
    chosen = layout or load_layout(DEFAULT_LAYOUT)
    summary = run_summary(conn, run_id)
    if summary.status not in ("approved", "exported"):
        raise RunStateError(
            f"dividend run {run_id}: status is {summary.status}; a bank file needs an approved"
            " or exported run"
        )
    payees = [
        {"file_no": r[1], "name": r[2], "id_number": r[3], "bank_name": r[4] or "",
         "account": r[5], "village": r[6], "township": r[7], "amount": int(r[8])}
        for r in conn.execute(_PAYEES, (run_id,))
    ]  # fmt: skip
    content = render_bank_file(payees, chosen, period=summary.period_label, run_id=run_id)
    digest = hashlib.sha256(content).hexdigest()
    total = sum(p["amount"] for p in payees)
    detail = (f"bank file {path.name} ({chosen.name}): {len(payees)} payees, {yuan(total)}"
              f" yuan, sha256 {digest}")  # fmt: skip
    with conn.transaction():
        mark_exported(conn, run_id, by=by, detail=detail)
        _write_whole(path, content)
    return BankFile(path, chosen.name, len(payees), total, digest)


def _write_whole(path: Path, content: bytes) -> None:
    """``content`` to ``path`` through a temporary file in the same folder, renamed."""
    tmp = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot be written ({exc.strerror})") from exc
