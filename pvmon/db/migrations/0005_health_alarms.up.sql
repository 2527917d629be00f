-- Collector health per inverter and alarms as events (opened, closed, why).
CREATE TABLE inverter_health (
    inverter_id          bigint PRIMARY KEY REFERENCES inverters (id) ON DELETE CASCADE,
    state                text NOT NULL CHECK (state IN ('online', 'offline', 'fault', 'sleeping',
                                                         'unknown')),
    since                timestamptz NOT NULL,
    last_poll_at         timestamptz,
    last_good_at         timestamptz,
    last_energy_wh       bigint,
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_error           text,
    device_clock_offset_s real,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alarms (
    id              bigserial PRIMARY KEY,
    inverter_id     bigint REFERENCES inverters (id),
    station_id      bigint NOT NULL REFERENCES stations (id),
    kind            text NOT NULL CHECK (kind IN ('offline', 'no_output', 'fault_code',
                                                  'underperforming')),
    opened_at       timestamptz NOT NULL,
    closed_at       timestamptz,
    reason          text NOT NULL,
    close_reason    text,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    acknowledged_at timestamptz,
    acknowledged_by text,
    ack_comment     text,
    CHECK (closed_at IS NULL OR closed_at >= opened_at)
);
-- at most one open alarm of a kind per inverter
CREATE UNIQUE INDEX alarms_one_open ON alarms (inverter_id, kind) WHERE closed_at IS NULL;
CREATE INDEX alarms_station_idx ON alarms (station_id, opened_at DESC);
