-- Back to 0015: energy_daily computed on every read, nothing kept.
DROP VIEW station_energy_daily;
DROP VIEW energy_daily;
DROP TRIGGER stations_energy_changed ON stations;
DROP TRIGGER inverters_energy_changed ON inverters;
DROP FUNCTION pvmon_energy_registry_changed();
DROP FUNCTION pvmon_store_energy();
DROP FUNCTION pvmon_forget_energy_since(timestamptz);
DROP FUNCTION pvmon_forget_energy(bigint[]);
DROP TABLE energy_days_state;
DROP TABLE energy_days;
DROP FUNCTION pvmon_energy_days(bigint, integer, float8, float8, float8, float8, date);

CREATE VIEW energy_daily AS
SELECT i.id AS inverter_id,
       i.station_id,
       (o.bucket AT TIME ZONE 'Asia/Shanghai')::date AS day,
       o.energy_wh,
       o.estimated_wh,
       o.samples,
       o.energy_samples,
       o.first_time,
       o.last_time,
       o.gap_before_s,
       o.counter_reset,
       o.power_avg_w,
       o.power_max_w,
       o.temperature_max_c
  FROM inverters i
  JOIN stations s ON s.id = i.station_id
 CROSS JOIN LATERAL (
    WITH g AS (
        SELECT q.*,
               -- a rise over more than 15 minutes is split by the sun expected in each part
               (q.gap_before_wh > 0
                AND q.first_time - q.prev_last_time > INTERVAL '15 minutes') AS split,
               -- a short gap's rise belongs to the bucket before it when that bucket ended
               -- still producing and this one starts with none (power above / at most 1 %
               -- of the rating): it was produced after the earlier reading (0010's rule)
               (q.prev_last_power_w > 0.01 * i.rated_ac_w
                AND q.first_power_w <= 0.01 * i.rated_ac_w) AS to_previous
          FROM (
            SELECT p.*,
                   -- within the bucket: a monotonic counter gives last - first; otherwise
                   -- the counter restarted inside the bucket: only the part after it counts
                   (CASE WHEN p.min_wh = p.first_wh AND p.max_wh = p.last_wh
                         THEN p.last_wh - p.first_wh ELSE p.last_wh - p.min_wh END) AS within_wh,
                   -- the rise across the gap before it: none after a restart (the counter
                   -- went down) or a rise above the rating (garbage)
                   (CASE WHEN p.prev_last_wh IS NULL OR p.first_wh < p.prev_last_wh THEN 0
                         WHEN (p.first_wh - p.prev_last_wh) > 1 + 1.2 * i.rated_ac_w
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
                 WHERE r.inverter_id = i.id AND r.first_wh IS NOT NULL
                WINDOW w AS (ORDER BY r.bucket)
              ) p
          ) q
    )
    SELECT k.bucket,
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
                    THEN pvmon_sun_between(s.latitude, s.longitude, s.tilt_deg,
                                           s.azimuth_deg, g.bucket, g.last_time)
                         < 0.01 * pvmon_sun_between(s.latitude, s.longitude, s.tilt_deg,
                                                    s.azimuth_deg, g.bucket,
                                                    least(now(), g.bucket + INTERVAL '1 day'))
                    ELSE false END) AS unknown
          FROM g
        UNION ALL
        SELECT x.bucket, x.energy_wh, x.energy_wh, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, false
          FROM g CROSS JOIN LATERAL pvmon_gap_split(
                   g.prev_last_time, g.first_time, g.gap_before_wh, 'day',
                   s.latitude, s.longitude, s.tilt_deg, s.azimuth_deg,
                   coalesce(g.prev_last_power_w <= 0.01 * i.rated_ac_w, false),
                   coalesce(g.first_power_w <= 0.01 * i.rated_ac_w, false)) x
         WHERE g.split
        UNION ALL
        SELECT g.prev_bucket, g.gap_before_wh, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, false
          FROM g
         WHERE g.to_previous AND NOT g.split AND g.gap_before_wh > 0
      ) k
     GROUP BY k.bucket
 ) o;

-- a station's day with no information from any inverter is no row (dividends fill it
-- from the expected yield, as a day without readings)
CREATE VIEW station_energy_daily AS
SELECT station_id, day, sum(energy_wh)::bigint AS energy_wh,
       count(energy_wh) AS inverters_reporting, bool_or(counter_reset) AS counter_reset,
       max(power_max_w) AS power_max_w, sum(estimated_wh)::bigint AS estimated_wh
  FROM energy_daily
 GROUP BY station_id, day
HAVING count(energy_wh) > 0;
