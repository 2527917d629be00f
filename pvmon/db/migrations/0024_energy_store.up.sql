-- Energy per inverter and day, kept once final (issue 24): a station's year read from the
-- energy_daily view took 21 ms (every day of every inverter recomputed from the daily
-- rollup on each request, all the inverter's history scanned), too slow for dozens of
-- users at once, and slower every year.
--
-- A day's energy is final once the inverter has readings on a later day (the overnight
-- rule and the split of a gap's rise look one row ahead) and the day has ended in China.
-- energy_days keeps the final days; energy_days_state says per inverter up to which day
-- (through) and what the row after it looked like when they were computed (its guard_*:
-- the first reading of the next day with readings, the only part of later rows the kept
-- days depend on). energy_daily is now the kept days plus the days after them, computed
-- as before by pvmon_energy_days (the view's former body, told where to start). Without
-- anything kept it is the view it was. Kept days are forgotten (recomputed on the next
-- pvmon_store_energy) when:
-- - the daily rollup gets a row for a day up to the guard's, or the guard's first
--   reading changes (late data; plain PostgreSQL: a trigger on the rollup table; on
--   TimescaleDB pvmon.db.rollups.refresh_rollups forgets from where it refreshes);
-- - an inverter's rating or station, or its station's place or panel plane, changes.

-- Energy per day of one inverter [Wh] for the days after p_after (NULL: every day), as
-- energy_daily computes it; the rollup rows from the last day with readings up to
-- p_after on are read (the previous row is what the rules look back to).
CREATE FUNCTION pvmon_energy_days(p_inverter bigint, p_rated_ac_w integer,
                                  p_latitude float8, p_longitude float8,
                                  p_tilt_deg float8, p_azimuth_deg float8, p_after date)
RETURNS TABLE (day date, energy_wh bigint, estimated_wh bigint, samples bigint,
               energy_samples bigint, first_time timestamptz, last_time timestamptz,
               gap_before_s double precision, counter_reset boolean,
               power_avg_w double precision, power_max_w real, temperature_max_c real)
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
    WITH g AS (
        SELECT q.*,
               -- a rise over more than 15 minutes is split by the sun expected in each part
               (q.gap_before_wh > 0
                AND q.first_time - q.prev_last_time > INTERVAL '15 minutes') AS split,
               -- a short gap's rise belongs to the bucket before it when that bucket ended
               -- still producing and this one starts with none (power above / at most 1 %
               -- of the rating): it was produced after the earlier reading (0010's rule)
               (q.prev_last_power_w > 0.01 * p_rated_ac_w
                AND q.first_power_w <= 0.01 * p_rated_ac_w) AS to_previous
          FROM (
            SELECT p.*,
                   -- within the bucket: a monotonic counter gives last - first; otherwise
                   -- the counter restarted inside the bucket: only the part after it counts
                   (CASE WHEN p.min_wh = p.first_wh AND p.max_wh = p.last_wh
                         THEN p.last_wh - p.first_wh ELSE p.last_wh - p.min_wh END) AS within_wh,
                   -- the rise across the gap before it: none after a restart (the counter
                   -- went down) or a rise above the rating (garbage)
                   (CASE WHEN p.prev_last_wh IS NULL OR p.first_wh < p.prev_last_wh THEN 0
                         WHEN (p.first_wh - p.prev_last_wh) > 1 + 1.2 * p_rated_ac_w
                              * extract(epoch FROM p.first_time - p.prev_last_time) / 3600.0
                         THEN 0
                         ELSE p.first_wh - p.prev_last_wh END) AS gap_before_wh
              FROM (
                -- per inverter, so a filter on inverter or station narrows the scan first
                SELECT r.*,
                       lag(r.last_wh) OVER w AS prev_last_wh,
                       lag(r.last_time) OVER w AS prev_last_time,
                       lag(r.last_power_w) OVER w AS prev_last_power_w,
                       lag(r.bucket) OVER w AS prev_bucket,
                       lead(r.bucket) OVER w AS next_bucket
                  FROM readings_daily r
                 WHERE r.inverter_id = p_inverter AND r.first_wh IS NOT NULL
                      -- the days after p_after: from the last day with readings up to it on
                      AND r.bucket >= coalesce((
                              SELECT max(b.bucket) FROM readings_daily b
                               WHERE b.inverter_id = p_inverter AND b.first_wh IS NOT NULL
                                 AND b.bucket < (p_after + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'),
                              '-infinity')
                WINDOW w AS (ORDER BY r.bucket)
              ) p
          ) q
    )
    SELECT (k.bucket AT TIME ZONE 'Asia/Shanghai')::date AS day,
           CASE WHEN bool_or(k.unknown) THEN NULL ELSE sum(k.wh)::bigint END AS energy_wh,
           sum(k.estimated_wh)::bigint AS estimated_wh,
           coalesce(max(k.samples), 0)::bigint AS samples,
           coalesce(max(k.energy_samples), 0)::bigint AS energy_samples,
           max(k.first_time) AS first_time,
           max(k.last_time) AS last_time,
           max(k.gap_before_s) AS gap_before_s,
           coalesce(bool_or(k.counter_reset), false) AS counter_reset,
           max(k.power_avg_w) AS power_avg_w,
           max(k.power_max_w) AS power_max_w,
           max(k.temperature_max_c) AS temperature_max_c
      FROM (
        SELECT g.bucket,
               g.within_wh + (CASE WHEN g.split OR g.to_previous THEN 0
                                   ELSE g.gap_before_wh END) AS wh,
               0::bigint AS estimated_wh,
               g.samples, g.energy_samples, g.first_time, g.last_time,
               extract(epoch FROM g.first_time - g.prev_last_time)::double precision
                 AS gap_before_s,
               (g.resets > 0 OR g.min_wh <> g.first_wh OR g.max_wh <> g.last_wh
                OR coalesce(g.first_wh < g.prev_last_wh, false)) AS counter_reset,
               g.power_avg_w, g.power_max_w, g.temperature_max_c,
               (CASE WHEN g.next_bucket IS NULL AND g.within_wh <= 1
                     AND NOT (g.split AND g.gap_before_wh > 1)
                    -- its readings saw under 1 % of the day's sun so far
                    THEN pvmon_sun_between(p_latitude, p_longitude, p_tilt_deg,
                                           p_azimuth_deg, g.bucket, g.last_time)
                         < 0.01 * pvmon_sun_between(p_latitude, p_longitude, p_tilt_deg,
                                                    p_azimuth_deg, g.bucket,
                                                    least(now(), g.bucket + INTERVAL '1 day'))
                    ELSE false END) AS unknown
          FROM g
        UNION ALL
        SELECT x.bucket, x.energy_wh, x.energy_wh, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, false
          FROM g CROSS JOIN LATERAL pvmon_gap_split(
                   g.prev_last_time, g.first_time, g.gap_before_wh, 'day',
                   p_latitude, p_longitude, p_tilt_deg, p_azimuth_deg,
                   coalesce(g.prev_last_power_w <= 0.01 * p_rated_ac_w, false),
                   coalesce(g.first_power_w <= 0.01 * p_rated_ac_w, false)) x
         WHERE g.split
        UNION ALL
        SELECT g.prev_bucket, g.gap_before_wh, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, false
          FROM g
         WHERE g.to_previous AND NOT g.split AND g.gap_before_wh > 0
      ) k
     GROUP BY k.bucket
    HAVING p_after IS NULL OR (k.bucket AT TIME ZONE 'Asia/Shanghai')::date > p_after$fn$;

CREATE TABLE energy_days (
    inverter_id       bigint NOT NULL REFERENCES inverters (id) ON DELETE CASCADE,
    day               date NOT NULL,
    energy_wh         bigint,
    estimated_wh      bigint,
    samples           bigint,
    energy_samples    bigint,
    first_time        timestamptz,
    last_time         timestamptz,
    gap_before_s      double precision,
    counter_reset     boolean,
    power_avg_w       double precision,
    power_max_w       real,
    temperature_max_c real,
    PRIMARY KEY (inverter_id, day)
);

CREATE TABLE energy_days_state (
    inverter_id          bigint PRIMARY KEY REFERENCES inverters (id) ON DELETE CASCADE,
    through              date NOT NULL,        -- energy_days holds its days up to this one
    guard_bucket         timestamptz NOT NULL, -- the next rollup row after it, as it was
    guard_first_time     timestamptz,
    guard_first_wh       bigint,
    guard_first_power_w  real
);

-- Forget what is kept of these inverters (their days are computed again). Keeping and
-- forgetting take turns (advisory lock 7070708, held to the end of the transaction): a
-- forget waits for a keep under way and then deletes what it kept.
CREATE FUNCTION pvmon_forget_energy(p_inverters bigint[]) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    forgotten bigint;
BEGIN
    IF cardinality(p_inverters) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(7070708);
    DELETE FROM energy_days_state WHERE inverter_id = ANY(p_inverters);
    GET DIAGNOSTICS forgotten = ROW_COUNT;
    DELETE FROM energy_days WHERE inverter_id = ANY(p_inverters);
    RETURN forgotten;
END $fn$;

-- Forget what is kept of every inverter whose kept days a write at or after p_from
-- (NULL: any time) may have changed: a guard's first reading at or after it.
CREATE FUNCTION pvmon_forget_energy_since(p_from timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(7070708);  -- the guards as a keep under way leaves them
    RETURN pvmon_forget_energy(ARRAY(
        SELECT inverter_id FROM energy_days_state
         WHERE p_from IS NULL OR guard_first_time IS NULL OR guard_first_time >= p_from));
END $fn$;

-- Keep every day that became final since the last call; returns the days kept.
CREATE FUNCTION pvmon_store_energy() RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    kept bigint;
    yesterday date := (now() AT TIME ZONE 'Asia/Shanghai')::date - 1;
BEGIN
    PERFORM pg_advisory_xact_lock(7070708);
    CREATE TEMP TABLE IF NOT EXISTS pvmon_energy_next (
        inverter_id bigint PRIMARY KEY, after date, through date
    ) ON COMMIT DELETE ROWS;
    TRUNCATE pvmon_energy_next;
    -- final: before the inverter's last day with readings, and before today
    INSERT INTO pvmon_energy_next
    SELECT i.id, st.through,
           least(yesterday, (l.bucket AT TIME ZONE 'Asia/Shanghai')::date - 1)
      FROM inverters i
      LEFT JOIN energy_days_state st ON st.inverter_id = i.id
     CROSS JOIN LATERAL (SELECT max(r.bucket) AS bucket FROM readings_daily r
                          WHERE r.inverter_id = i.id AND r.first_wh IS NOT NULL) l
     WHERE l.bucket IS NOT NULL
       AND (st.through IS NULL
            OR least(yesterday, (l.bucket AT TIME ZONE 'Asia/Shanghai')::date - 1) > st.through);
    -- rows after what is kept (left by a forget that raced an earlier keep) go first
    DELETE FROM energy_days e USING pvmon_energy_next n
     WHERE e.inverter_id = n.inverter_id AND (n.after IS NULL OR e.day > n.after);
    INSERT INTO energy_days
    SELECT n.inverter_id, e.*
      FROM pvmon_energy_next n
      JOIN inverters i ON i.id = n.inverter_id
      JOIN stations s ON s.id = i.station_id
     CROSS JOIN LATERAL pvmon_energy_days(i.id, i.rated_ac_w, s.latitude, s.longitude,
                                          s.tilt_deg, s.azimuth_deg, n.after) e
     WHERE e.day <= n.through;
    GET DIAGNOSTICS kept = ROW_COUNT;
    INSERT INTO energy_days_state (inverter_id, through, guard_bucket, guard_first_time,
                                   guard_first_wh, guard_first_power_w)
    SELECT n.inverter_id, n.through, g.bucket, g.first_time, g.first_wh, g.first_power_w
      FROM pvmon_energy_next n
     CROSS JOIN LATERAL (
        SELECT r.bucket, r.first_time, r.first_wh, r.first_power_w FROM readings_daily r
         WHERE r.inverter_id = n.inverter_id AND r.first_wh IS NOT NULL
           AND r.bucket >= (n.through + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'
         ORDER BY r.bucket LIMIT 1) g
    ON CONFLICT (inverter_id) DO UPDATE SET
        through = EXCLUDED.through, guard_bucket = EXCLUDED.guard_bucket,
        guard_first_time = EXCLUDED.guard_first_time, guard_first_wh = EXCLUDED.guard_first_wh,
        guard_first_power_w = EXCLUDED.guard_first_power_w;
    RETURN kept;
END $fn$;

-- A change of what an inverter's energy is computed with forgets what is kept of it.
CREATE FUNCTION pvmon_energy_registry_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_TABLE_NAME = 'inverters' THEN
        PERFORM pvmon_forget_energy(ARRAY[OLD.id]);
    ELSE
        PERFORM pvmon_forget_energy(ARRAY(SELECT i.id FROM inverters i
                                           WHERE i.station_id = OLD.id));
    END IF;
    RETURN NULL;
END $fn$;
CREATE TRIGGER inverters_energy_changed AFTER UPDATE OF rated_ac_w, station_id ON inverters
    FOR EACH ROW WHEN (OLD.rated_ac_w IS DISTINCT FROM NEW.rated_ac_w
                       OR OLD.station_id IS DISTINCT FROM NEW.station_id)
    EXECUTE FUNCTION pvmon_energy_registry_changed();
CREATE TRIGGER stations_energy_changed
    AFTER UPDATE OF latitude, longitude, tilt_deg, azimuth_deg ON stations
    FOR EACH ROW WHEN (OLD.latitude IS DISTINCT FROM NEW.latitude
                       OR OLD.longitude IS DISTINCT FROM NEW.longitude
                       OR OLD.tilt_deg IS DISTINCT FROM NEW.tilt_deg
                       OR OLD.azimuth_deg IS DISTINCT FROM NEW.azimuth_deg)
    EXECUTE FUNCTION pvmon_energy_registry_changed();

DROP VIEW station_energy_daily;
DROP VIEW energy_daily;

CREATE VIEW energy_daily AS
SELECT e.inverter_id, i.station_id, e.day, e.energy_wh, e.estimated_wh, e.samples,
       e.energy_samples, e.first_time, e.last_time, e.gap_before_s, e.counter_reset,
       e.power_avg_w, e.power_max_w, e.temperature_max_c
  FROM energy_days e
  JOIN energy_days_state st ON st.inverter_id = e.inverter_id AND e.day <= st.through
  JOIN inverters i ON i.id = e.inverter_id
UNION ALL
SELECT i.id AS inverter_id, i.station_id, o.day, o.energy_wh, o.estimated_wh, o.samples,
       o.energy_samples, o.first_time, o.last_time, o.gap_before_s, o.counter_reset,
       o.power_avg_w, o.power_max_w, o.temperature_max_c
  FROM inverters i
  JOIN stations s ON s.id = i.station_id
  LEFT JOIN energy_days_state st ON st.inverter_id = i.id
 CROSS JOIN LATERAL pvmon_energy_days(i.id, i.rated_ac_w, s.latitude, s.longitude,
                                      s.tilt_deg, s.azimuth_deg, st.through) o;

-- a station's day with no information from any inverter is no row (dividends fill it
-- from the expected yield, as a day without readings)
CREATE VIEW station_energy_daily AS
SELECT station_id, day, sum(energy_wh)::bigint AS energy_wh,
       count(energy_wh) AS inverters_reporting, bool_or(counter_reset) AS counter_reset,
       max(power_max_w) AS power_max_w, sum(estimated_wh)::bigint AS estimated_wh
  FROM energy_daily
 GROUP BY station_id, day
HAVING count(energy_wh) > 0;
