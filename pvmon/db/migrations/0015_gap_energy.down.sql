-- Back to 0010: the rise across a gap counts in one bucket, by the overnight rule.
DROP VIEW station_energy_daily;
DROP VIEW station_energy_hourly;
DROP VIEW energy_daily;
DROP VIEW energy_hourly;
DROP FUNCTION pvmon_gap_split(timestamptz, timestamptz, bigint, text, float8, float8, float8, float8,
                              boolean, boolean);
DROP FUNCTION pvmon_solar_noon(float8, timestamptz);
DROP FUNCTION pvmon_sun_between(float8, float8, float8, float8, timestamptz, timestamptz);

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
