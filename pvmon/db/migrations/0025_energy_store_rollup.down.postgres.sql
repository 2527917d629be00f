DROP TRIGGER readings_daily_energy_deleted ON readings_daily;
DROP TRIGGER readings_daily_energy_written ON readings_daily;
DROP FUNCTION pvmon_energy_rollup_changed();
