"""The PostgreSQL/TimescaleDB datasource and its SQL query model for the foundation SDK.

The Grafana foundation SDK ships query builders for many datasources but not for
Grafana's PostgreSQL one, so this module adds one through the SDK's ``Dataquery``
variant: :class:`SqlQuery` serialises exactly what Grafana stores for a code-mode SQL
query (``rawSql``, ``format``, ``rawQuery``, ``editorMode``), and :class:`Sql` is its
builder, usable wherever the SDK takes a query builder (``panel.with_target(...)``).
"""

from __future__ import annotations

from typing import Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef

__all__ = [
    "DATASOURCE",
    "DATASOURCE_NAME",
    "DATASOURCE_TYPE",
    "DATASOURCE_UID",
    "Sql",
    "SqlFormat",
    "SqlQuery",
]

DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE_UID = "pvmon-postgres"
DATASOURCE_NAME = "pvmon PostgreSQL"
DATASOURCE = DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)

SqlFormat = Literal["time_series", "table"]


class SqlQuery(cogvariants.Dataquery):
    """One SQL target of a panel (Grafana's PostgreSQL query model, code mode)."""

    def __init__(self, *, ref_id: str = "A", raw_sql: str = "", fmt: SqlFormat = "table") -> None:
        self.ref_id = ref_id
        self.raw_sql = raw_sql
        self.format = fmt

    def to_json(self) -> dict[str, object]:
        """The JSON Grafana stores for this target."""
        return {
            "datasource": DATASOURCE.to_json(),
            "editorMode": "code",
            "format": self.format,
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }


class Sql(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builder of a :class:`SqlQuery`: ``Sql(sql).format_table()``."""

    def __init__(self, raw_sql: str, *, ref_id: str = "A") -> None:
        self._internal = SqlQuery(ref_id=ref_id, raw_sql=_tidy(raw_sql))

    def build(self) -> SqlQuery:
        """The query model."""
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        """Set the target's reference id (A, B, ...)."""
        self._internal.ref_id = ref_id
        return self

    def format_table(self) -> Self:
        """Return rows as a table."""
        self._internal.format = "table"
        return self

    def format_time_series(self) -> Self:
        """Return a time series (a ``time`` column, numeric values, optional ``metric``)."""
        self._internal.format = "time_series"
        return self


def _tidy(sql: str) -> str:
    """Dedent and strip a SQL literal so the stored text is stable and readable."""
    lines = sql.strip("\n").splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:].rstrip() for line in lines).strip() + "\n"
