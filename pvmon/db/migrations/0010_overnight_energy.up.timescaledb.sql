-- Overnight energy in the right day: the hourly/daily counter statistics also keep the
-- power at each bucket's first and last readings, and the energy views count the
-- counter's rise across a gap in the earlier bucket when that bucket ended while still
-- producing and the later one starts before production (a logger asleep from dusk to
-- dawn; field note 9).
-- Statements marked pvmon:after-commit run after this migration commits (TimescaleDB
-- refreshes cannot run inside a transaction).
-- pvmon:after-commit CALL refresh_continuous_aggregate('readings_hourly', NULL, time_bucket(INTERVAL '1 hour', now()))
-- pvmon:after-commit CALL refresh_continuous_aggregate('readings_daily', NULL, time_bucket(INTERVAL '1 day', now(), 'Asia/Shanghai'))

DROP VIEW station_energy_daily;
DROP VIEW station_energy_hourly;
DROP VIEW energy_daily;
DROP VIEW energy_hourly;
DROP MATERIALIZED VIEW readings_daily;
DROP MATERIALIZED VIEW readings_hourly;

-- first/last ignoring NULL counters: a NULL gets an infinite time so it is never chosen
-- while a real value exists.
CREATE MATERIALIZED VIEW readings_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT inverter_id,
       time_bucket(INTERVAL '1 hour', time) AS bucket,
       count(*) AS samples,
       count(energy_wh) AS energy_samples,
       min(CASE WHEN energy_wh IS NOT NULL THEN time END) AS first_time,
       first(energy_wh, CASE WHEN energy_wh IS NULL THEN 'infinity'::timestamptz ELSE time END) AS first_wh,
       max(CASE WHEN energy_wh IS NOT NULL THEN time END) AS last_time,
       last(energy_wh, CASE WHEN energy_wh IS NULL THEN '-infinity'::timestamptz ELSE time END) AS last_wh,
       min(energy_wh) AS min_wh,
       max(energy_wh) AS max_wh,
       sum(CASE WHEN quality & 4 <> 0 THEN 1 ELSE 0 END) AS resets,
       avg(ac_power_w) AS power_avg_w,
       max(ac_power_w) AS power_max_w,
       max(temperature_c) AS temperature_max_c,
       -- power at the first reading with a counter: was the device producing yet?
       first(ac_power_w, CASE WHEN energy_wh IS NULL THEN 'infinity'::timestamptz ELSE time END) AS first_power_w,
       -- and at the last: was it still producing when it went quiet?
       last(ac_power_w, CASE WHEN energy_wh IS NULL THEN '-infinity'::timestamptz ELSE time END) AS last_power_w
FROM readings
GROUP BY inverter_id, time_bucket(INTERVAL '1 hour', time)
WITH NO DATA;

-- Station-local days (all of the programme's stations are on China Standard Time).
CREATE MATERIALIZED VIEW readings_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT inverter_id,
       time_bucket(INTERVAL '1 day', time, 'Asia/Shanghai') AS bucket,
       count(*) AS samples,
       count(energy_wh) AS energy_samples,
       min(CASE WHEN energy_wh IS NOT NULL THEN time END) AS first_time,
       first(energy_wh, CASE WHEN energy_wh IS NULL THEN 'infinity'::timestamptz ELSE time END) AS first_wh,
       max(CASE WHEN energy_wh IS NOT NULL THEN time END) AS last_time,
       last(energy_wh, CASE WHEN energy_wh IS NULL THEN '-infinity'::timestamptz ELSE time END) AS last_wh,
       min(energy_wh) AS min_wh,
       max(energy_wh) AS max_wh,
       sum(CASE WHEN quality & 4 <> 0 THEN 1 ELSE 0 END) AS resets,
       avg(ac_power_w) AS power_avg_w,
       max(ac_power_w) AS power_max_w,
       max(temperature_c) AS temperature_max_c,
       -- power at the first reading with a counter: was the device producing yet?
       first(ac_power_w, CASE WHEN energy_wh IS NULL THEN 'infinity'::timestamptz ELSE time END) AS first_power_w,
       -- and at the last: was it still producing when it went quiet?
       last(ac_power_w, CASE WHEN energy_wh IS NULL THEN '-infinity'::timestamptz ELSE time END) AS last_power_w
FROM readings
GROUP BY inverter_id, time_bucket(INTERVAL '1 day', time, 'Asia/Shanghai')
WITH NO DATA;

-- Policies keep the last 30 days materialised; older late data (a spool replayed after a
-- long outage, a backfill) is refreshed by pvmon.db.rollups.refresh_rollups.
SELECT add_continuous_aggregate_policy('readings_hourly',
    start_offset => INTERVAL '30 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '10 minutes');
SELECT add_continuous_aggregate_policy('readings_daily',
    start_offset => INTERVAL '30 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '30 minutes');

-- Energy per inverter and station from lifetime-counter differences (never from
-- integrating power), as in 0004, with one change: the counter's rise across a gap
-- between two buckets (overnight, or a logger asleep from dusk) is counted in the
-- earlier bucket when the earlier bucket's last reading still shows production and the
-- later bucket's first reading shows none yet (power above / at most 1 % of the
-- rating): it was produced after the earlier bucket's last reading. Otherwise (power
-- not recorded, production over before the gap, or already under way when the device
-- answered again) it stays with the later bucket, as in 0004.
CREATE VIEW energy_hourly AS
SELECT i.id AS inverter_id,
       i.station_id,
       o.bucket AS bucket_start,
       -- within the bucket: a monotonic counter gives last - first; otherwise the counter
       -- restarted inside the bucket and only the part after the restart is counted.
       (CASE WHEN o.min_wh = o.first_wh AND o.max_wh = o.last_wh THEN o.last_wh - o.first_wh
             ELSE o.last_wh - o.min_wh END)
       -- across the gap before it, unless that gap's rise belongs to the bucket before
     + (CASE WHEN o.gap_to_previous THEN 0 ELSE o.gap_before_wh END)
       -- and across the gap after it, when that rise was produced before the next bucket
     + (CASE WHEN coalesce(o.next_gap_to_previous, false) THEN o.next_gap_before_wh
             ELSE 0 END) AS energy_wh,
       o.samples,
       o.energy_samples,
       o.first_time,
       o.last_time,
       extract(epoch FROM o.first_time - o.prev_last_time)::double precision AS gap_before_s,
       (o.resets > 0 OR o.min_wh <> o.first_wh OR o.max_wh <> o.last_wh
        OR coalesce(o.first_wh < o.prev_last_wh, false)) AS counter_reset,
       o.power_avg_w,
       o.power_max_w,
       o.temperature_max_c
  FROM inverters i
 CROSS JOIN LATERAL (
    SELECT g.*,
           lead(g.gap_to_previous) OVER w AS next_gap_to_previous,
           lead(g.gap_before_wh) OVER w AS next_gap_before_wh
      FROM (
        SELECT p.*,
               -- the rise across the gap: none after a restart (the counter went down)
               -- or a rise above the rating (garbage)
               (CASE WHEN p.prev_last_wh IS NULL OR p.first_wh < p.prev_last_wh THEN 0
                     WHEN (p.first_wh - p.prev_last_wh) > 1 + 1.2 * i.rated_ac_w
                          * extract(epoch FROM p.first_time - p.prev_last_time) / 3600.0
                     THEN 0
                     ELSE p.first_wh - p.prev_last_wh END) AS gap_before_wh,
               (p.prev_last_wh IS NOT NULL
                AND p.prev_last_power_w > 0.01 * i.rated_ac_w
                AND p.first_power_w <= 0.01 * i.rated_ac_w) AS gap_to_previous
          FROM (
            -- per inverter, so a filter on inverter or station narrows the scan first
            SELECT s.*,
                   lag(s.last_wh) OVER w AS prev_last_wh,
                   lag(s.last_time) OVER w AS prev_last_time,
                   lag(s.last_power_w) OVER w AS prev_last_power_w
              FROM readings_hourly s
             WHERE s.inverter_id = i.id AND s.first_wh IS NOT NULL
            WINDOW w AS (ORDER BY s.bucket)
          ) p
      ) g
    WINDOW w AS (ORDER BY g.bucket)
 ) o;

CREATE VIEW energy_daily AS
SELECT i.id AS inverter_id,
       i.station_id,
       (o.bucket AT TIME ZONE 'Asia/Shanghai')::date AS day,
       -- within the bucket: a monotonic counter gives last - first; otherwise the counter
       -- restarted inside the bucket and only the part after the restart is counted.
       (CASE WHEN o.min_wh = o.first_wh AND o.max_wh = o.last_wh THEN o.last_wh - o.first_wh
             ELSE o.last_wh - o.min_wh END)
       -- across the gap before it, unless that gap's rise belongs to the bucket before
     + (CASE WHEN o.gap_to_previous THEN 0 ELSE o.gap_before_wh END)
       -- and across the gap after it, when that rise was produced before the next bucket
     + (CASE WHEN coalesce(o.next_gap_to_previous, false) THEN o.next_gap_before_wh
             ELSE 0 END) AS energy_wh,
       o.samples,
       o.energy_samples,
       o.first_time,
       o.last_time,
       extract(epoch FROM o.first_time - o.prev_last_time)::double precision AS gap_before_s,
       (o.resets > 0 OR o.min_wh <> o.first_wh OR o.max_wh <> o.last_wh
        OR coalesce(o.first_wh < o.prev_last_wh, false)) AS counter_reset,
       o.power_avg_w,
       o.power_max_w,
       o.temperature_max_c
  FROM inverters i
 CROSS JOIN LATERAL (
    SELECT g.*,
           lead(g.gap_to_previous) OVER w AS next_gap_to_previous,
           lead(g.gap_before_wh) OVER w AS next_gap_before_wh
      FROM (
        SELECT p.*,
               -- the rise across the gap: none after a restart (the counter went down)
               -- or a rise above the rating (garbage)
               (CASE WHEN p.prev_last_wh IS NULL OR p.first_wh < p.prev_last_wh THEN 0
                     WHEN (p.first_wh - p.prev_last_wh) > 1 + 1.2 * i.rated_ac_w
                          * extract(epoch FROM p.first_time - p.prev_last_time) / 3600.0
                     THEN 0
                     ELSE p.first_wh - p.prev_last_wh END) AS gap_before_wh,
               (p.prev_last_wh IS NOT NULL
                AND p.prev_last_power_w > 0.01 * i.rated_ac_w
                AND p.first_power_w <= 0.01 * i.rated_ac_w) AS gap_to_previous
          FROM (
            -- per inverter, so a filter on inverter or station narrows the scan first
            SELECT s.*,
                   lag(s.last_wh) OVER w AS prev_last_wh,
                   lag(s.last_time) OVER w AS prev_last_time,
                   lag(s.last_power_w) OVER w AS prev_last_power_w
              FROM readings_daily s
             WHERE s.inverter_id = i.id AND s.first_wh IS NOT NULL
            WINDOW w AS (ORDER BY s.bucket)
          ) p
      ) g
    WINDOW w AS (ORDER BY g.bucket)
 ) o;

CREATE VIEW station_energy_hourly AS
SELECT station_id, bucket_start, sum(energy_wh)::bigint AS energy_wh,
       count(*) AS inverters_reporting, bool_or(counter_reset) AS counter_reset,
       sum(power_avg_w) AS power_avg_w
  FROM energy_hourly
 GROUP BY station_id, bucket_start;

CREATE VIEW station_energy_daily AS
SELECT station_id, day, sum(energy_wh)::bigint AS energy_wh,
       count(*) AS inverters_reporting, bool_or(counter_reset) AS counter_reset,
       max(power_max_w) AS power_max_w
  FROM energy_daily
 GROUP BY station_id, day;
