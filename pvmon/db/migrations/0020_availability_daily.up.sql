-- Each station's availability per local day, stored for Grafana. The figures are made in
-- Python (pvmon.availability: daylight, outages from alarms and readings, losses measured
-- by the village's other inverters, causes) by the collector every hour for yesterday and
-- today, and by `pvmon availability --store` for any month; dashboards read them here.
CREATE TABLE station_availability_daily (
    station_id             bigint NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    day                    date NOT NULL,
    period_s               bigint NOT NULL CHECK (period_s >= 0),
    available_s            bigint NOT NULL CHECK (available_s >= 0),
    actual_wh              bigint NOT NULL CHECK (actual_wh >= 0),
    lost_grid_wh           bigint NOT NULL DEFAULT 0 CHECK (lost_grid_wh >= 0),
    lost_inverter_fault_wh bigint NOT NULL DEFAULT 0 CHECK (lost_inverter_fault_wh >= 0),
    lost_communication_wh  bigint NOT NULL DEFAULT 0 CHECK (lost_communication_wh >= 0),
    lost_maintenance_wh    bigint NOT NULL DEFAULT 0 CHECK (lost_maintenance_wh >= 0),
    computed_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, day),
    CHECK (available_s <= period_s)
);
