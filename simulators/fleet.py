"""A simulated fleet from a fleet file: devices grouped behind their data-logger endpoints."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from pvmon.registry.models import FleetFile, StationRecord
from simulators.behaviour import DeviceBehaviour, LoggerBehaviour, draw_field_behaviours
from simulators.device import SIMULATOR_MANUFACTURER, DeviceSpec, SimulatedInverter
from simulators.faults import Fault, draw_faults
from simulators.physics import Site
from simulators.server import Endpoint

__all__ = ["DEFAULT_COMMISSIONED", "build_endpoints", "device_specs"]

DEFAULT_COMMISSIONED = date(2018, 1, 1)
"""Assumed commissioning date of a station whose fleet record gives none."""

_PROTOCOL_VENDORS = frozenset({"sunspec"})
"""Fleet vendors (case-folded) that name a protocol, not a maker: the fleet generator's
vendor for its generic SunSpec inverters (SS-4000-1P, SS-50K-3P), which the simulator
makes, so a SunSpec client reads the simulator as their manufacturer (``Mn``)."""


def _manufacturer(vendor: str) -> str:
    """The manufacturer a simulated inverter of fleet vendor ``vendor`` reports."""
    return SIMULATOR_MANUFACTURER if vendor.casefold() in _PROTOCOL_VENDORS else vendor


def _site(station: StationRecord, *, share: float, rated_ac_w: int) -> Site:
    return Site(
        latitude=station.latitude,
        longitude=station.longitude,
        capacity_kwp=float(station.capacity_kwp) * share,
        tilt_deg=station.tilt_deg,
        azimuth_deg=station.azimuth_deg,
        rated_ac_w=rated_ac_w,
        commissioned_on=station.commissioned_on
        or station.grid_connected_on
        or DEFAULT_COMMISSIONED,
    )


def device_specs(fleet: FleetFile) -> list[DeviceSpec]:
    """One spec per inverter; a station's modules are split evenly over its inverters."""
    specs = []
    for station in fleet.stations:
        count = len(station.inverters)
        for inverter in station.inverters:
            specs.append(
                DeviceSpec(
                    serial=inverter.serial,
                    site=_site(station, share=1 / count, rated_ac_w=inverter.rated_ac_w),
                    register_map=inverter.register_map,
                    phases=inverter.phases,
                    host=inverter.host,
                    port=inverter.port,
                    unit_id=inverter.unit_id,
                    framing=inverter.framing,
                    manufacturer=_manufacturer(inverter.vendor),
                    model=inverter.model,
                )
            )
    return specs


def build_endpoints(
    specs: Sequence[DeviceSpec],
    *,
    seed: int,
    start: datetime,
    fault_profile: str = "none",
    faults: Mapping[str, Sequence[Fault]] | None = None,
    port_offset: int = 0,
    loggers: Mapping[str, LoggerBehaviour] | None = None,
    behaviours: Mapping[str, DeviceBehaviour] | None = None,
    speed: float = 1.0,
) -> list[Endpoint]:
    """Endpoints with their devices; ``faults`` by serial override the profile's draw.

    Under the ``field`` profile every logger and inverter also gets field behaviours
    (drawn, unless ``loggers`` by ``host:port`` and ``behaviours`` by serial are given).
    The drawn faults and behaviours are those of a run at ``speed`` (simulated seconds
    per wall second): their wall-clock parts divided by it
    (:func:`~simulators.behaviour.draw_field_behaviours`).
    """
    if fault_profile == "field" and loggers is None and behaviours is None:
        keys = sorted({f"{s.host}:{s.port + port_offset}" for s in specs})
        loggers, behaviours = draw_field_behaviours(
            keys, [s.serial for s in specs], seed=seed, start=start, speed=speed
        )
    endpoints: dict[tuple[str, int], Endpoint] = {}
    by_endpoint: dict[tuple[str, int], set[str]] = defaultdict(set)
    for spec in specs:
        key = (spec.host, spec.port + port_offset)
        endpoint = endpoints.setdefault(
            key,
            Endpoint(
                spec.host,
                spec.port + port_offset,
                spec.framing,
                behaviour=(loggers or {}).get(f"{key[0]}:{key[1]}", LoggerBehaviour()),
            ),
        )
        by_endpoint[key].add(spec.framing)
        if len(by_endpoint[key]) > 1:
            raise ValueError(f"endpoint {key[0]}:{key[1]} has devices with different framings")
        if spec.unit_id in endpoint.devices:
            raise ValueError(f"endpoint {key[0]}:{key[1]} has unit id {spec.unit_id} twice")
        chosen = (faults or {}).get(spec.serial)
        if chosen is None:
            chosen = draw_faults(
                spec.serial, profile=fault_profile, seed=seed, start=start, speed=speed
            )
        endpoint.devices[spec.unit_id] = SimulatedInverter(
            spec,
            seed=seed,
            start=start,
            faults=chosen,
            behaviour=(behaviours or {}).get(spec.serial),
        )
    return list(endpoints.values())
