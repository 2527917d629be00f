-- Plain PostgreSQL: the same relation names as the TimescaleDB flavour, kept by the
-- application. A statement trigger records which (inverter, time range) changed;
-- pvmon_refresh_rollups() recomputes just those buckets (like TimescaleDB's
-- invalidation log).
CREATE INDEX readings_time_brin ON readings USING brin (time);

CREATE TABLE readings_hourly (
    inverter_id       bigint NOT NULL,
    bucket            timestamptz NOT NULL,
    samples           bigint NOT NULL,
    energy_samples    bigint NOT NULL,
    first_time        timestamptz,
    first_wh          bigint,
    last_time         timestamptz,
    last_wh           bigint,
    min_wh            bigint,
    max_wh            bigint,
    resets            bigint NOT NULL,
    power_avg_w       double precision,
    power_max_w       real,
    temperature_max_c real,
    PRIMARY KEY (inverter_id, bucket)
);
CREATE TABLE readings_daily (LIKE readings_hourly INCLUDING ALL);

CREATE TABLE rollup_invalidations (
    inverter_id bigint NOT NULL,
    from_time   timestamptz NOT NULL,
    to_time     timestamptz NOT NULL
);

CREATE FUNCTION pvmon_invalidate_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_invalidations (inverter_id, from_time, to_time)
    SELECT inverter_id, min(time), max(time) FROM new_rows GROUP BY inverter_id;
    RETURN NULL;
END $$;

CREATE FUNCTION pvmon_invalidate_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_invalidations (inverter_id, from_time, to_time)
    SELECT inverter_id, min(time), max(time) FROM old_rows GROUP BY inverter_id;
    RETURN NULL;
END $$;

CREATE TRIGGER readings_invalidate_insert AFTER INSERT ON readings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pvmon_invalidate_new();
CREATE TRIGGER readings_invalidate_update_new AFTER UPDATE ON readings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pvmon_invalidate_new();
CREATE TRIGGER readings_invalidate_update_old AFTER UPDATE ON readings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION pvmon_invalidate_old();
CREATE TRIGGER readings_invalidate_delete AFTER DELETE ON readings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION pvmon_invalidate_old();

-- Recompute every invalidated bucket; returns the number of invalidation ranges taken.
CREATE FUNCTION pvmon_refresh_rollups() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    taken bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7070707);
    CREATE TEMP TABLE IF NOT EXISTS pvmon_refresh_ranges (
        inverter_id bigint, from_time timestamptz, to_time timestamptz
    ) ON COMMIT DELETE ROWS;
    TRUNCATE pvmon_refresh_ranges;
    WITH t AS (DELETE FROM rollup_invalidations RETURNING inverter_id, from_time, to_time)
    INSERT INTO pvmon_refresh_ranges
    SELECT inverter_id, min(from_time), max(to_time) FROM t GROUP BY inverter_id;
    GET DIAGNOSTICS taken = ROW_COUNT;
    IF taken = 0 THEN
        RETURN 0;
    END IF;

    DELETE FROM readings_hourly h USING pvmon_refresh_ranges r
     WHERE h.inverter_id = r.inverter_id
       AND h.bucket >= date_trunc('hour', r.from_time)
       AND h.bucket < date_trunc('hour', r.to_time) + INTERVAL '1 hour';
    INSERT INTO readings_hourly
    SELECT x.inverter_id, date_trunc('hour', x.time),
           count(*), count(x.energy_wh),
           min(x.time) FILTER (WHERE x.energy_wh IS NOT NULL),
           (min(ARRAY[(extract(epoch FROM x.time) * 1000000)::bigint, x.energy_wh])
               FILTER (WHERE x.energy_wh IS NOT NULL))[2],
           max(x.time) FILTER (WHERE x.energy_wh IS NOT NULL),
           (max(ARRAY[(extract(epoch FROM x.time) * 1000000)::bigint, x.energy_wh])
               FILTER (WHERE x.energy_wh IS NOT NULL))[2],
           min(x.energy_wh), max(x.energy_wh),
           count(*) FILTER (WHERE x.quality & 4 <> 0),
           avg(x.ac_power_w), max(x.ac_power_w), max(x.temperature_c)
      FROM readings x JOIN pvmon_refresh_ranges r ON x.inverter_id = r.inverter_id
     WHERE x.time >= date_trunc('hour', r.from_time)
       AND x.time < date_trunc('hour', r.to_time) + INTERVAL '1 hour'
     GROUP BY x.inverter_id, date_trunc('hour', x.time);

    DELETE FROM readings_daily d USING pvmon_refresh_ranges r
     WHERE d.inverter_id = r.inverter_id
       AND d.bucket >= date_trunc('day', r.from_time, 'Asia/Shanghai')
       AND d.bucket < date_trunc('day', r.to_time, 'Asia/Shanghai') + INTERVAL '1 day';
    INSERT INTO readings_daily
    SELECT x.inverter_id, date_trunc('day', x.time, 'Asia/Shanghai'),
           count(*), count(x.energy_wh),
           min(x.time) FILTER (WHERE x.energy_wh IS NOT NULL),
           (min(ARRAY[(extract(epoch FROM x.time) * 1000000)::bigint, x.energy_wh])
               FILTER (WHERE x.energy_wh IS NOT NULL))[2],
           max(x.time) FILTER (WHERE x.energy_wh IS NOT NULL),
           (max(ARRAY[(extract(epoch FROM x.time) * 1000000)::bigint, x.energy_wh])
               FILTER (WHERE x.energy_wh IS NOT NULL))[2],
           min(x.energy_wh), max(x.energy_wh),
           count(*) FILTER (WHERE x.quality & 4 <> 0),
           avg(x.ac_power_w), max(x.ac_power_w), max(x.temperature_c)
      FROM readings x JOIN pvmon_refresh_ranges r ON x.inverter_id = r.inverter_id
     WHERE x.time >= date_trunc('day', r.from_time, 'Asia/Shanghai')
       AND x.time < date_trunc('day', r.to_time, 'Asia/Shanghai') + INTERVAL '1 day'
     GROUP BY x.inverter_id, date_trunc('day', x.time, 'Asia/Shanghai');
    RETURN taken;
END $$;
