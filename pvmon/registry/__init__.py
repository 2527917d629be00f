"""The fleet registry: places, households, stations, inverters; import and generation."""

from pvmon.registry.generate import generate_fleet
from pvmon.registry.load import load_fleet_files
from pvmon.registry.store import ImportSummary, store_fleet

__all__ = ["ImportSummary", "generate_fleet", "load_fleet_files", "store_fleet"]
