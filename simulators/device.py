"""A simulated inverter: physics in, register image out.

The lifetime counter is the exact integral of the simulated AC power (outages
included), so the energy of any inverter-day is known exactly
(:meth:`SimulatedInverter.true_energy_between_wh`) and tests can compare what a
collector stored against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pvmon.registermaps import RegisterMap, get_map
from simulators.behaviour import DeviceBehaviour
from simulators.faults import GRID_DISCONNECT, Fault
from simulators.physics import Site, day_power_w, energy_between_wh, power_at_w

__all__ = ["SIMULATOR_MANUFACTURER", "DeviceSpec", "SimulatedInverter", "plausible_counter_wh"]

_LOCAL = ZoneInfo("Asia/Shanghai")
_COUNTER_LIMIT = 2**32 - 1

SIMULATOR_MANUFACTURER = "pvmon-sim"
"""The maker of the simulated models, as SunSpec ``Mn`` shows it: the default, and what a
fleet vendor that names the protocol ("SunSpec") becomes (see :mod:`simulators.fleet`)."""


@dataclass(frozen=True)
class DeviceSpec:
    """What a simulated inverter is and where it answers."""

    serial: str
    site: Site
    register_map: str
    phases: int
    host: str
    port: int
    unit_id: int
    framing: str = "tcp"
    manufacturer: str = SIMULATOR_MANUFACTURER
    model: str = "SIM"


class SimulatedInverter:
    """One inverter: values and register image at a simulated time.

    Times passed in must not go backwards (the counter integrates forward).
    """

    def __init__(
        self,
        spec: DeviceSpec,
        *,
        seed: int,
        start: datetime,
        faults: Sequence[Fault] = (),
        initial_energy_wh: float | None = None,
        behaviour: DeviceBehaviour | None = None,
    ) -> None:
        self.spec = spec
        self.seed = seed
        self.faults = list(faults)
        behaviour = behaviour or DeviceBehaviour()
        self.register_map: RegisterMap = get_map(spec.register_map, phases=spec.phases)
        if behaviour.extra.get("firmware_drops_identity"):
            identity = self.register_map.blocks[0]
            behaviour = replace(behaviour, missing_after_update=((identity.start, identity.count),))
        self.behaviour = behaviour
        self._start = start
        self._windows: dict[date, tuple[datetime, datetime] | None] = {}
        if initial_energy_wh is None:
            initial_energy_wh = plausible_counter_wh(spec.site, start)
        self._counter_wh = float(initial_energy_wh)
        self._counter_t = start
        self._image_t: datetime | None = None
        self._image: dict[int, int] = {}
        self._stuck_images: dict[int, dict[int, int]] = {}

    # -- the truth --------------------------------------------------------------

    def _outages(self) -> list[Fault]:
        return [f for f in self.faults if f.kind == "grid_outage"]

    def true_power_w(self, at: datetime) -> float:
        """AC power the inverter really produces at ``at`` [W]."""
        if any(f.active(at) for f in self._outages()):
            return 0.0
        return power_at_w(self.spec.site, at, seed=self.seed, device_key=self.spec.serial)

    def true_energy_between_wh(self, start: datetime, end: datetime) -> float:
        """Energy really produced between ``start`` and ``end`` [Wh] (outages excluded)."""
        if end <= start:
            return 0.0
        total = energy_between_wh(
            self.spec.site, start, end, seed=self.seed, device_key=self.spec.serial
        )
        for outage in self._outages():
            lo = max(start, outage.start or start)
            hi = min(end, outage.end or end)
            if hi > lo:
                total -= energy_between_wh(
                    self.spec.site, lo, hi, seed=self.seed, device_key=self.spec.serial
                )
        return max(total, 0.0)

    def true_daily_energy_wh(self, day: date) -> float:
        """Energy of one local (China Standard Time) day [Wh]."""
        start = datetime(day.year, day.month, day.day, tzinfo=_LOCAL)
        return self.true_energy_between_wh(start, start + timedelta(days=1))

    # -- what the device reports ------------------------------------------------

    def counter_wh(self, at: datetime) -> int:
        """The lifetime energy counter at ``at`` [Wh] (advances the counter)."""
        for fault in self.faults:
            if (
                fault.kind == "replaced"
                and fault.start is not None
                and self._counter_t < fault.start <= at
            ):
                self._counter_wh, self._counter_t = 0.0, fault.start
        if at > self._counter_t:
            self._counter_wh += self.true_energy_between_wh(self._counter_t, at)
            self._counter_t = at
        return min(int(self._counter_wh), _COUNTER_LIMIT)

    def daily_yield_wh(self, at: datetime) -> int:
        """The device's own yield of the local day up to ``at`` [Wh], floored.

        What a SUN2000 shows in 32114: energy since the local (China Standard Time)
        midnight, outages excluded.
        """
        local = at.astimezone(_LOCAL)
        midnight = datetime(local.year, local.month, local.day, tzinfo=_LOCAL)
        return int(self.true_energy_between_wh(midnight, at))

    def values_at(self, at: datetime) -> dict[str, object]:
        """Canonical values (see :mod:`pvmon.registermaps`) the device reports at ``at``."""
        rated = float(self.spec.site.rated_ac_w)
        power = self.true_power_w(at)
        outage = next((f for f in self._outages() if f.active(at)), None)
        if outage is not None:
            state, event = 7, int(outage.params.get("event_code", GRID_DISCONNECT))
        elif power > 0:
            state, event = (5 if power >= rated * 0.999 else 4), 0
        else:
            state, event = 2, 0
        load = power / rated
        voltage = 229.0 + 3.0 * load
        phases = self.spec.phases
        current = power / (voltage * phases) if power > 0 else 0.0
        values: dict[str, object] = {
            "ac_power_w": power,
            "energy_wh": self.counter_wh(at),
            "daily_energy_wh": self.daily_yield_wh(at),
            "dc_power_w": power / 0.975 if power > 0 else 0.0,
            "ac_voltage_a_v": voltage,
            "ac_current_a_a": current,
            "frequency_hz": 50.0 + 0.02 * ((at.timestamp() // 7) % 5 - 2) / 2,
            "temperature_c": 22.0 + 23.0 * load,
            "state": state,
            "event_code": event,
            "manufacturer": self.spec.manufacturer,
            "model": self.spec.model,
            "serial": self.spec.serial,
            "rated_ac_w": rated,
            "unit_id": self.spec.unit_id,
            "device_time": self.behaviour.device_clock(at, since=self._start).timestamp(),
        }
        if self.behaviour.dawn_zero_minutes:
            window = self.production_window(at.astimezone(_LOCAL).date())
            if window is not None and window[0] <= at < window[0] + timedelta(
                minutes=self.behaviour.dawn_zero_minutes
            ):
                values["energy_wh"] = 0  # the logger's start-up zero (field note 8)
        if phases == 3:
            values.update(
                ac_voltage_b_v=voltage + 0.4,
                ac_voltage_c_v=voltage - 0.3,
                ac_current_b_a=current,
                ac_current_c_a=current,
            )
        for fault in self.faults:
            if not fault.active(at):
                continue
            if fault.kind == "sentinel":
                for point in fault.params.get("points", ("temperature_c",)):
                    values[point] = None
            elif fault.kind == "out_of_range":
                values["ac_power_w"] = power * 1000 + rated * 1000
                values["energy_wh"] = min(
                    int(values["energy_wh"]) + 4_000_000_000,  # type: ignore[call-overload]
                    _COUNTER_LIMIT,
                )
        return values

    def image_at(self, at: datetime) -> dict[int, int]:
        """The register image at ``at`` (recomputed at most once per simulated second)."""
        stuck = next((f for f in self.faults if f.kind == "stuck" and f.active(at)), None)
        if stuck is not None:
            key = id(stuck)
            if key not in self._stuck_images:
                self._stuck_images[key] = self.register_map.encode(self.values_at(at))
            self.counter_wh(at)  # the real counter keeps counting behind the frozen display
            return self._stuck_images[key]
        second = at.replace(microsecond=0)
        if self._image_t != second:
            self._image = self.register_map.encode(self.values_at(at))
            self._image_t = second
        return self._image

    def production_window(self, day: date) -> tuple[datetime, datetime] | None:
        """First and last minute of production on a local day (None: no production)."""
        if day not in self._windows:
            profile = day_power_w(self.spec.site, day, seed=self.seed, device_key=self.spec.serial)
            producing = [i for i, p in enumerate(profile) if p > 0]
            midnight = datetime(day.year, day.month, day.day, tzinfo=_LOCAL)
            self._windows[day] = (
                (
                    midnight + timedelta(minutes=producing[0]),
                    midnight + timedelta(minutes=producing[-1]),
                )
                if producing
                else None
            )
        return self._windows[day]

    def is_night(self, at: datetime, *, margin: timedelta = timedelta(minutes=30)) -> bool:
        """True from ``margin`` after the day's last production to ``margin`` before the first."""
        window = self.production_window(at.astimezone(_LOCAL).date())
        if window is None:
            return True
        return at < window[0] - margin or at > window[1] + margin

    def active_fault(self, kind: str, at: datetime) -> Fault | None:
        """The first fault of ``kind`` active at ``at``, if any."""
        return next((f for f in self.faults if f.kind == kind and f.active(at)), None)


def plausible_counter_wh(site: Site, at: datetime) -> float:
    """A lifetime counter for a station that has run since commissioning [Wh].

    Only differences of the counter carry meaning; the starting value just has to look
    like a real inverter's (about 1,300 kWh per kWp per year of operation).
    """
    commissioned = site.commissioned_on
    years = max((at.date() - commissioned).days, 0) / 365.25 if commissioned else 0.0
    return round(years * 1300.0 * float(site.capacity_kwp) * 1000.0)
