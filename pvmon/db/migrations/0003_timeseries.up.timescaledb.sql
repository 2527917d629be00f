-- TimescaleDB: readings becomes a hypertable with compression, and the hourly/daily
-- counter statistics are continuous aggregates (real-time: recent rows are included).
--
-- Chunk interval 1 day: a county of 17,062 inverters polled every 60 s writes about
-- 24.6 M rows a day (~3 GB with indexes); one day per chunk keeps the chunk being
-- written, and its index, well inside memory on a modest server, and lets compression
-- (after 7 days) and retention work in whole days.
CREATE EXTENSION IF NOT EXISTS timescaledb;

SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'), if_not_exists => true);

ALTER TABLE readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'inverter_id',
    timescaledb.compress_orderby = 'time DESC'
);
SELECT add_compression_policy('readings', INTERVAL '7 days');

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
