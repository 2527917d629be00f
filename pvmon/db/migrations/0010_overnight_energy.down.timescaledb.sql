-- Back to 0003's continuous aggregates and 0004's views.
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
       max(temperature_c) AS temperature_max_c
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
       max(temperature_c) AS temperature_max_c
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
-- integrating power). Identical on both flavours: they read readings_hourly/readings_daily.

CREATE VIEW energy_hourly AS
SELECT i.id AS inverter_id,
       i.station_id,
       o.bucket AS bucket_start,
       -- within the bucket: a monotonic counter gives last - first; otherwise the counter
       -- restarted inside the bucket and only the part after the restart is counted.
       (CASE WHEN o.min_wh = o.first_wh AND o.max_wh = o.last_wh THEN o.last_wh - o.first_wh
             ELSE o.last_wh - o.min_wh END)
       -- across the gap from the previous bucket's last reading: counted here, unless the
       -- counter went down (restart) or rose more than the rating allows (garbage).
     + (CASE WHEN o.prev_last_wh IS NULL OR o.first_wh < o.prev_last_wh THEN 0
             WHEN (o.first_wh - o.prev_last_wh) > 1 + 1.2 * i.rated_ac_w
                  * extract(epoch FROM o.first_time - o.prev_last_time) / 3600.0 THEN 0
             ELSE o.first_wh - o.prev_last_wh END) AS energy_wh,
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
    -- per inverter, so a filter on inverter or station narrows the scan before lag() runs
    SELECT s.*,
           lag(s.last_wh) OVER w AS prev_last_wh,
           lag(s.last_time) OVER w AS prev_last_time
      FROM readings_hourly s
     WHERE s.inverter_id = i.id AND s.first_wh IS NOT NULL
    WINDOW w AS (ORDER BY s.bucket)
 ) o;

CREATE VIEW energy_daily AS
SELECT i.id AS inverter_id,
       i.station_id,
       (o.bucket AT TIME ZONE 'Asia/Shanghai')::date AS day,
       -- within the bucket: a monotonic counter gives last - first; otherwise the counter
       -- restarted inside the bucket and only the part after the restart is counted.
       (CASE WHEN o.min_wh = o.first_wh AND o.max_wh = o.last_wh THEN o.last_wh - o.first_wh
             ELSE o.last_wh - o.min_wh END)
       -- across the gap from the previous bucket's last reading: counted here, unless the
       -- counter went down (restart) or rose more than the rating allows (garbage).
     + (CASE WHEN o.prev_last_wh IS NULL OR o.first_wh < o.prev_last_wh THEN 0
             WHEN (o.first_wh - o.prev_last_wh) > 1 + 1.2 * i.rated_ac_w
                  * extract(epoch FROM o.first_time - o.prev_last_time) / 3600.0 THEN 0
             ELSE o.first_wh - o.prev_last_wh END) AS energy_wh,
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
    -- per inverter, so a filter on inverter or station narrows the scan before lag() runs
    SELECT s.*,
           lag(s.last_wh) OVER w AS prev_last_wh,
           lag(s.last_time) OVER w AS prev_last_time
      FROM readings_daily s
     WHERE s.inverter_id = i.id AND s.first_wh IS NOT NULL
    WINDOW w AS (ORDER BY s.bucket)
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
