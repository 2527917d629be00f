DROP VIEW station_energy_daily;
DROP VIEW station_energy_hourly;
DROP VIEW energy_daily;
DROP VIEW energy_hourly;
