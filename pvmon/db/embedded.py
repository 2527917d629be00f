"""The embedded PostgreSQL server: pvmon's default database when no URL is set.

``initdb`` on first use, ``pg_ctl start`` (or reuse of a running server), ``stop``.
The server listens on loopback TCP only, with a generated password kept beside the
data directory (mode 0600). PostgreSQL refuses to run as root, so when this process
is root the server runs as the unprivileged ``postgres`` user.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from pvmon.errors import EmbeddedDatabaseError

__all__ = ["EmbeddedPostgres", "find_postgres_bin_dir", "free_port"]

_SUPERUSER = "pvmon"
_DATABASE = "pvmon"
_SERVER_USER_WHEN_ROOT = "postgres"


def free_port() -> int:
    """An unused TCP port on loopback, chosen by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _version_key(path: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in path.parent.name.split("."))
    except ValueError:
        return (0,)


def find_postgres_bin_dir(preferred: Path | None = None) -> Path:
    """Directory holding ``initdb`` and ``pg_ctl``.

    Looks at ``preferred``, then ``PATH``, then Debian's ``/usr/lib/postgresql/*/bin``
    (newest first), then the ``pgserver`` wheel if it is installed.
    """
    candidates: list[Path] = []
    if preferred is not None:
        candidates.append(preferred)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    candidates.extend(debian)
    try:
        import pgserver

        candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise EmbeddedDatabaseError(
        "no PostgreSQL server binaries found (looked for initdb/pg_ctl in "
        "PVMON_POSTGRES_BIN_DIR, PATH, /usr/lib/postgresql/*/bin and the pgserver wheel); "
        "install Debian's postgresql package or `pip install pgserver`"
    )


@dataclass(frozen=True)
class _ServerUser:
    uid: int
    gid: int
    name: str


class EmbeddedPostgres:
    """A PostgreSQL server owned by pvmon, living in ``root_dir``.

    Layout: ``root_dir/data`` (the cluster), ``root_dir/server.log``,
    ``root_dir/password`` (the generated superuser password, 0600).
    """

    def __init__(
        self,
        *,
        root_dir: Path,
        port: int,
        bin_dir: Path | None = None,
        preload_timescaledb: bool | None = None,
        server_settings: dict[str, str] | None = None,
    ) -> None:
        self.root_dir = root_dir.resolve()
        self.port = port
        self.bin_dir = find_postgres_bin_dir(bin_dir)
        self._preload_timescaledb = preload_timescaledb
        self._server_settings = dict(server_settings or {})
        self._server_user = self._pick_server_user()

    # -- paths and identity -------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.root_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.root_dir / "server.log"

    @property
    def password_file(self) -> Path:
        return self.root_dir / "password"

    @staticmethod
    def _pick_server_user() -> _ServerUser | None:
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(_SERVER_USER_WHEN_ROOT)
        except KeyError as exc:
            raise EmbeddedDatabaseError(
                "running as root, but PostgreSQL refuses to run as root and there is no "
                f"'{_SERVER_USER_WHEN_ROOT}' user to run it as; create one or run pvmon "
                "as an ordinary user"
            ) from exc
        return _ServerUser(entry.pw_uid, entry.pw_gid, entry.pw_name)

    def timescaledb_available(self) -> bool:
        """True when the server's share directory has the timescaledb extension."""
        pg_config = self.bin_dir / "pg_config"
        if not pg_config.exists():
            return False
        result = subprocess.run(
            [str(pg_config), "--sharedir"], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            return False
        share = Path(result.stdout.strip())
        return (share / "extension" / "timescaledb.control").exists()

    @property
    def password(self) -> str:
        try:
            return self.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise EmbeddedDatabaseError(
                f"cannot read the embedded database password at {self.password_file}"
            ) from exc

    def url(self, database: str = _DATABASE) -> str:
        """Connection URL for ``database`` on this server, as the superuser (migrations)."""
        return (
            f"postgresql://{_SUPERUSER}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{quote(database, safe='')}"
        )

    @property
    def app_password(self) -> str:
        """The application role's password, generated on first use and kept beside the
        superuser's (``root_dir/app-password``, 0600)."""
        path = self.root_dir / "app-password"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(secrets.token_urlsafe(24) + "\n")
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise EmbeddedDatabaseError(f"cannot read the application password at {path}") from exc

    def app_url(self, role: str, database: str = _DATABASE) -> str:
        """Connection URL for ``database`` as the application ``role`` (no ownership)."""
        return (
            f"postgresql://{role}:{quote(self.app_password, safe='')}"
            f"@127.0.0.1:{self.port}/{quote(database, safe='')}"
        )

    # -- lifecycle -----------------------------------------------------------

    def _run(self, args: list[str], *, what: str) -> subprocess.CompletedProcess[str]:
        user = self._server_user
        try:
            result = subprocess.run(
                args,
                capture_output=True,
                text=True,
                check=False,
                user=user.uid if user else None,
                group=user.gid if user else None,
                extra_groups=[] if user else None,
                cwd=self.root_dir,
                env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
            )
        except OSError as exc:
            raise EmbeddedDatabaseError(f"{what}: cannot run {args[0]}: {exc}") from exc
        return result

    def _chown_for_server(self, path: Path) -> None:
        if self._server_user is not None:
            os.chown(path, self._server_user.uid, self._server_user.gid)

    def _check_reachable_by_server(self) -> None:
        if self._server_user is None:
            return
        probe = self._run(["test", "-w", str(self.root_dir)], what="checking the data directory")
        if probe.returncode != 0:
            raise EmbeddedDatabaseError(
                f"the '{self._server_user.name}' user cannot write {self.root_dir} (a parent "
                "directory is probably private to root); set PVMON_DATA_DIR to a directory "
                "it can reach, e.g. under /var/lib or /tmp"
            )

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def initialize(self) -> None:
        """Create the cluster if it does not exist yet (idempotent)."""
        if self.initialized:
            return
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self._chown_for_server(self.root_dir)
        self._check_reachable_by_server()
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password + "\n", encoding="utf-8")
        self.password_file.chmod(0o600)
        pwfile = self.root_dir / ".initdb-password"
        pwfile.write_text(password + "\n", encoding="utf-8")
        pwfile.chmod(0o600)
        self._chown_for_server(pwfile)
        try:
            result = self._run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    _SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                what="initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise EmbeddedDatabaseError(f"initdb failed:\n{result.stdout}{result.stderr}")

    def running(self) -> bool:
        """True when this cluster's postmaster is running."""
        if not self.initialized:
            return False
        result = self._run(
            [str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.data_dir)], what="pg_ctl status"
        )
        return result.returncode == 0

    def _server_options(self) -> str:
        options = [
            f"-c port={self.port}",
            "-c listen_addresses=127.0.0.1",
            "-c unix_socket_directories=''",
            "-c max_connections=200",
            # TimescaleDB needs a launcher, a scheduler per database and a worker per job
            "-c max_worker_processes=32",
            "-c shared_buffers=256MB",
            "-c fsync=on",
            # as migration 0017 sets it per database: databases cloned from a template
            # (the tests') do not inherit their template's settings
            "-c jit=off",
        ]
        preload = self._preload_timescaledb
        if preload is None:
            preload = self.timescaledb_available()
        if preload:
            options += [
                "-c shared_preload_libraries=timescaledb",
                "-c timescaledb.telemetry_level=off",
            ]
        options += [f"-c {name}={value}" for name, value in self._server_settings.items()]
        return " ".join(options)

    def start(self) -> None:
        """Initialise if needed and start the server; reuse it if it already runs."""
        self.initialize()
        if self.running():
            return
        if _port_in_use(self.port):
            raise EmbeddedDatabaseError(
                f"port {self.port} on 127.0.0.1 is taken by another program; "
                "set PVMON_EMBEDDED_PORT to a free port"
            )
        result = self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                self._server_options(),
            ],
            what="pg_ctl start",
        )
        if result.returncode != 0:
            log_tail = ""
            if self.log_file.exists():
                log_tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-20:])
            raise EmbeddedDatabaseError(
                f"PostgreSQL did not start: {result.stdout}{result.stderr}\n{log_tail}"
            )
        self._ensure_database(_DATABASE)

    def _ensure_database(self, name: str) -> None:
        import psycopg  # local import: the edge that talks to the server

        try:
            with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                ).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.Error as exc:
            raise EmbeddedDatabaseError(f"cannot create database {name!r}: {exc}") from exc

    def stop(self) -> None:
        """Stop the server (fast shutdown); a stopped server stays stopped."""
        if not self.running():
            return
        result = self._run(
            [str(self.bin_dir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data_dir)],
            what="pg_ctl stop",
        )
        if result.returncode != 0:
            raise EmbeddedDatabaseError(f"PostgreSQL did not stop: {result.stderr}")
