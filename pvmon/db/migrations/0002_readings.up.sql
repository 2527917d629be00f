-- Readings: one row per inverter and poll, keyed (inverter_id, time), inserted idempotently.
-- Energy comes from the lifetime counter energy_wh; power fields are for display and alarms.
-- quality is a bitmask (pvmon.quality): simulated, estimated, counter reset, rejected values...
-- raw keeps what was rejected and why: {"energy_wh": {"raw": 0, "reason": "counter dip"}}.
CREATE TABLE readings (
    time                  timestamptz NOT NULL,
    inverter_id           bigint NOT NULL REFERENCES inverters (id),
    ac_power_w            real,
    energy_wh             bigint CHECK (energy_wh >= 0),
    dc_power_w            real,
    ac_voltage_a_v        real,
    ac_voltage_b_v        real,
    ac_voltage_c_v        real,
    ac_current_a_a        real,
    ac_current_b_a        real,
    ac_current_c_a        real,
    frequency_hz          real,
    temperature_c         real,
    state                 smallint,
    event_code            bigint,
    quality               integer NOT NULL DEFAULT 0,
    device_clock_offset_s real,
    raw                   jsonb,
    PRIMARY KEY (inverter_id, time)
);

-- Operating states, SunSpec model 101/103 'St' codes; vendor states are mapped onto them.
CREATE TABLE operating_states (
    code  smallint PRIMARY KEY,
    name  text NOT NULL UNIQUE
);
INSERT INTO operating_states (code, name) VALUES
    (1, 'off'), (2, 'sleeping'), (3, 'starting'), (4, 'mppt'), (5, 'throttled'),
    (6, 'shutting_down'), (7, 'fault'), (8, 'standby');
