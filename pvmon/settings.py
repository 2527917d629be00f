"""The one settings object of pvmon, read from ``PVMON_*`` variables and ``.env``.

Build it once at the entrypoint (:func:`load_settings`) and pass it down.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from pvmon.errors import ConfigError

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """Runtime configuration.

    With no ``database_url`` pvmon runs its own PostgreSQL in ``data_dir``.
    """

    model_config = SettingsConfigDict(
        env_prefix="PVMON_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset means the embedded server."
    )
    owner_database_url: SecretStr | None = Field(
        default=None,
        description="URL migrations run with (the schema's owner); unset: PVMON_DATABASE_URL "
        "(the embedded server: its superuser, while the application connects as pvmon_app).",
    )
    data_dir: Path = Field(
        default=Path(".pvmon"), description="Embedded database, spool and generated files."
    )
    embedded_port: int = Field(default=54329, ge=1, le=65535)
    postgres_bin_dir: Path | None = Field(
        default=None, description="Directory with initdb/pg_ctl; found on the machine if unset."
    )
    timescaledb: Literal["auto", "on", "off"] = Field(
        default="auto", description="Use TimescaleDB when the server has it (auto), always, never."
    )
    event_loop: Literal["auto", "uvloop", "asyncio"] = Field(
        default="auto",
        description="Event loop of the collector, simulator and demo: uvloop when installed "
        "(auto), uvloop, or the standard library's.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="The key the command line acts with (pvmon keys create); a person, "
        "with the key's role and county, as in the API.",
    )
    api_key_file: Path | None = Field(
        default=None, description="A file holding that key (e.g. pvmon keys create --out)."
    )
    estimated_share_limit: Decimal = Field(
        default=Decimal("0.05"),
        ge=0,
        le=1,
        description="Approving a run in which a station's energy is estimated beyond this "
        "share needs an explicit acknowledgement.",
    )
    setup_file_max_bytes: int = Field(
        default=1_000_000, ge=1_000, description="Largest dividend settings file read [bytes]."
    )
    import_file_max_bytes: int = Field(
        default=20_000_000,
        ge=1_000,
        description="Largest fleet, statement or other imported file read [bytes].",
    )
    spool_max_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1_000_000,
        description="The collector's spool of readings the database could not take: once "
        "this full, new readings are dropped and counted (pvmon_readings_dropped_total) "
        "[bytes].",
    )
    api_db_wait_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Longest an API request waits for a database connection; while the "
        "database stays down requests answer 503 at once [s].",
    )
    api_pool_size: int = Field(
        default=10,
        ge=1,
        le=500,
        description="Database connections the API keeps at most, and so the requests it "
        "serves at once; the others wait their turn for PVMON_API_DB_WAIT_S, then answer "
        "503 with Retry-After.",
    )
    api_heavy_requests: int = Field(
        default=4,
        ge=1,
        le=500,
        description="Heavy requests (fleet summary, computing a run, a bank file) that run "
        "at once, at most the pool size: the rest of the pool stays free for light ones.",
    )
    api_energy_max_age_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How old the fleet summary's energy of the day, month and year may be "
        "when answered: adding up a year of daily energy is costly, so it is kept this "
        "long and then renewed in the background while the kept figures are answered "
        "(0: computed for every request) [s].",
    )
    api_summary_max_age_s: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="How old the fleet summary's states and power may be when answered "
        "(``as_of`` says when they were read): they are kept this long and then renewed in "
        "the background while the kept figures are answered; the collector stores health "
        "every 10 s, so a few seconds lose nothing (0: read for every request) [s].",
    )
    api_threads: int = Field(
        default=40,
        ge=1,
        le=1000,
        description="Threads that run the API's requests.",
    )
    api_body_max_bytes: int = Field(
        default=20_000_000,
        ge=10_000,
        description="Largest request body the API reads; larger ones get 413 before "
        "anything is read [bytes].",
    )
    notify_routes: Path | None = Field(
        default=None,
        description="Routing file of alarm notifications (channels as apprise URLs, rules); "
        "unset: nobody is notified.",
    )
    notify_interval_s: float = Field(
        default=15.0, gt=0, le=3600, description="How often the notifier looks at alarms [s]."
    )
    notify_send_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Longest a notification waits to connect or for an answer [s].",
    )
    notify_max_attempts: int = Field(
        default=6, ge=1, le=100, description="Delivery attempts before a message is given up."
    )
    notify_retry_base_s: float = Field(
        default=30.0,
        gt=0,
        le=86400,
        description="First wait before a failed delivery is tried again, doubling each "
        "attempt [s].",
    )
    notify_lookback_s: int = Field(
        default=2 * 86400,
        ge=60,
        description="Closed alarms older than this are no longer looked at (resolve messages) [s].",
    )
    availability_comm_share: Decimal = Field(
        default=Decimal("0.5"),
        ge=0,
        le=1,
        description="An offline alarm across which the counter rose by at least this share "
        "of what the inverter should have produced is a silent logger only (cause "
        "communication: nothing lost).",
    )
    availability_sun_altitude_deg: float = Field(
        default=4.0,
        ge=0,
        le=30,
        description="The expected production period is while the sun stands above this "
        "height at the site [deg].",
    )
    availability_yield_kwh_per_kwp_year: Decimal = Field(
        default=Decimal("1300"),
        gt=0,
        le=3000,
        description="Expected yield of a station without its own (station_expected_yield), "
        "for losses no neighbour can measure [kWh/kWp/year].",
    )
    availability_max_days: int = Field(
        default=92, ge=1, le=366, description="Longest span one availability request covers [days]."
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=1, le=65535)
    log_level: str = "INFO"

    @property
    def embedded(self) -> bool:
        """True when pvmon manages its own PostgreSQL."""
        return self.database_url is None


def load_settings(**overrides: object) -> Settings:
    """Build :class:`Settings` from the environment, translating errors to :class:`ConfigError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except PydanticValidationError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
