-- Energy across a gap goes to the day and hour it was produced (issue 22).
--
-- When a logger is silent across a bucket boundary (asleep from dusk to dawn, down for most
-- of a day, a 4G link lost for a week), the counter's rise over the gap is split between the
-- buckets the gap covers in proportion to the production expected in each: the site's
-- clear-sky irradiance on its panel plane, from its latitude, longitude, tilt and azimuth.
-- A bucket with no reading of its own inside such a gap gets a row too. What a bucket got
-- this way is its estimated_wh (part of energy_wh). Gaps of up to 15 minutes (ordinary
-- polling) and gaps with no rise are not split: their rise counts in the later bucket.
-- A day whose readings all came before the sun rose, with none after it, is NULL: nothing
-- is known about its production (before, it read 0 Wh like a dead inverter).

-- Expected clear-sky sun on a site's panel plane between ta and tb ["sun-hours": hours of
-- 1 kW/m2, up to a constant], in closed form per solar day: declination and the equation
-- of time (Cooper, Spencer), the direct beam's incidence on the tilted plane integrated
-- over the hour angle while the sun stands 4 degrees above the horizon (lower, the long
-- path through the air leaves little), plus diffuse light from the sky in proportion to
-- the sun's height. Only the shape of a day matters here (which part of a gap saw how
-- much of its sun): against pvlib's Ineichen clear sky on a 30-degree plane at 41 N, the
-- share of a day's sun up to any hour is within 1 % in June and 1.6 % at the winter
-- solstice. Cheap enough to run inside the energy views.
CREATE FUNCTION pvmon_sun_between(lat float8, lon float8, tilt float8, azimuth float8,
                                  ta timestamptz, tb timestamptz)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT coalesce(sum(
           -- the beam while it falls on the plane's front: cos(incidence) = A + B cos w
           -- + C sin w is positive for w within acos(-A / R) of atan2(C, B)
           CASE WHEN least(o.w1, o.fc + o.fa) > greatest(o.w0, o.fc - o.fa) THEN
               o.pa * (least(o.w1, o.fc + o.fa) - greatest(o.w0, o.fc - o.fa))
               + o.pb * (sin(least(o.w1, o.fc + o.fa)) - sin(greatest(o.w0, o.fc - o.fa)))
               - o.pc * (cos(least(o.w1, o.fc + o.fa)) - cos(greatest(o.w0, o.fc - o.fa)))
           ELSE 0 END
           -- the sky's diffuse light, in proportion to the sun's height
           + 0.15 * (sin(o.phi) * sin(o.dec) * (o.w1 - o.w0)
                     + cos(o.phi) * cos(o.dec) * (sin(o.w1) - sin(o.w0)))
       ) * 12 / pi(), 0)
  FROM (
    SELECT h.*,
           greatest(-h.ws, (h.a - h.noon) / 43200 * pi()) AS w0,
           least(h.ws, (h.b - h.noon) / 43200 * pi()) AS w1,
           atan2(h.pc, h.pb) AS fc,
           acos(least(1, greatest(-1, -h.pa / greatest(1e-12, sqrt(h.pb ^ 2 + h.pc ^ 2)))))
             AS fa
      FROM (
        SELECT d.*,
               -- the sun 4 degrees above the horizon
               acos(least(1, greatest(-1, (sin(radians(4)) - sin(d.phi) * sin(d.dec))
                                           / (cos(d.phi) * cos(d.dec))))) AS ws,
               sin(d.dec) * (sin(d.phi) * cos(d.beta) - cos(d.phi) * sin(d.beta) * cos(d.gam))
                 AS pa,
               cos(d.dec) * (cos(d.phi) * cos(d.beta) + sin(d.phi) * sin(d.beta) * cos(d.gam))
                 AS pb,
               cos(d.dec) * sin(d.beta) * sin(d.gam) AS pc
          FROM (
            SELECT radians(lat) AS phi, radians(tilt) AS beta, radians(azimuth - 180) AS gam,
                   extract(epoch FROM ta)::float8 AS a, extract(epoch FROM tb)::float8 AS b,
                   radians(23.44) * sin(2 * pi() * (n - 10957 - 79.5) / 365.2422) AS dec,
                   n * 86400.0 - lon * 240 + 43200
                   - 60 * (9.87 * sin(4 * pi() * (n - 10957 - 80) / 365.2422)
                           - 7.53 * cos(2 * pi() * (n - 10957 - 80) / 365.2422)
                           - 1.5 * sin(2 * pi() * (n - 10957 - 80) / 365.2422)) AS noon
              FROM generate_series(floor((extract(epoch FROM ta) + lon * 240) / 86400)::bigint,
                                   floor((extract(epoch FROM tb) + lon * 240) / 86400)::bigint) n
             WHERE tb > ta
          ) d
      ) h
  ) o
 WHERE o.w1 > o.w0
$$;

-- Solar noon of the solar day that holds t [s since 1970]: the equation of time (Spencer).
CREATE FUNCTION pvmon_solar_noon(lon float8, t timestamptz)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT n * 86400.0 - lon * 240 + 43200
       - 60 * (9.87 * sin(4 * pi() * (n - 10957 - 80) / 365.2422)
               - 7.53 * cos(2 * pi() * (n - 10957 - 80) / 365.2422)
               - 1.5 * sin(2 * pi() * (n - 10957 - 80) / 365.2422))
  FROM (SELECT floor((extract(epoch FROM t) + lon * 240) / 86400)::bigint AS n) d
$$;

-- The counter's rise over a gap [Wh], split between the buckets ('hour' or 'day', China
-- Standard Time) the gap covers by the sun expected in each part; the parts sum exactly
-- to the rise. What the readings at the gap's ends showed narrows it: a reading with no
-- production in the morning (dark1) says none came earlier that day, one with none in the
-- afternoon (dark0) that none came later that day; with dawn told from dusk by the sun,
-- not by the power alone. With no sun left at all, the rise counts in the bucket of the
-- gap's end.
CREATE FUNCTION pvmon_gap_split(t0 timestamptz, t1 timestamptz, rise_wh bigint, unit text,
                                lat float8, lon float8, tilt float8, azimuth float8,
                                dark0 boolean, dark1 boolean)
RETURNS TABLE (bucket timestamptz, energy_wh bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
WITH lit AS (  -- the part of the gap in which production was possible
    SELECT CASE WHEN dark0 AND extract(epoch FROM t0) > pvmon_solar_noon(lon, t0)
                THEN least(t1, to_timestamp(pvmon_solar_noon(lon, t0) + 43200)) ELSE t0 END
             AS a,
           CASE WHEN dark1 AND extract(epoch FROM t1) < pvmon_solar_noon(lon, t1)
                THEN greatest(t0, to_timestamp(pvmon_solar_noon(lon, t1) - 43200)) ELSE t1 END
             AS b
), per AS (
    SELECT k AS bucket,
           pvmon_sun_between(lat, lon, tilt, azimuth, greatest(lit.a, k),
                             least(lit.b, k + ('1 ' || unit)::interval)) AS w
      FROM lit, generate_series(date_trunc(unit, t0, 'Asia/Shanghai'),
                                date_trunc(unit, t1, 'Asia/Shanghai'),
                                ('1 ' || unit)::interval) k
), cum AS (
    SELECT per.bucket,
           CASE WHEN row_number() OVER (ORDER BY per.bucket DESC) = 1 THEN rise_wh
                ELSE round(rise_wh * sum(per.w) OVER (ORDER BY per.bucket)
                           / sum(per.w) OVER ())::bigint END AS upto_wh
      FROM per
)
SELECT cum.bucket, cum.upto_wh - coalesce(lag(cum.upto_wh) OVER (ORDER BY cum.bucket), 0)
  FROM cum
 WHERE (SELECT sum(w) FROM per) > 0
UNION ALL
SELECT date_trunc(unit, t1, 'Asia/Shanghai'), rise_wh
 WHERE coalesce((SELECT sum(w) FROM per), 0) <= 0
$$;

DROP VIEW station_energy_daily;
DROP VIEW station_energy_hourly;
DROP VIEW energy_daily;
DROP VIEW energy_hourly;

CREATE VIEW energy_hourly AS
SELECT i.id AS inverter_id,
       i.station_id,
       o.bucket AS bucket_start,
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
                  FROM readings_hourly r
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
               false AS unknown
          FROM g
        UNION ALL
        SELECT x.bucket, x.energy_wh, x.energy_wh, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, false
          FROM g CROSS JOIN LATERAL pvmon_gap_split(
                   g.prev_last_time, g.first_time, g.gap_before_wh, 'hour',
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

CREATE VIEW station_energy_hourly AS
SELECT station_id, bucket_start, sum(energy_wh)::bigint AS energy_wh,
       count(energy_wh) AS inverters_reporting, bool_or(counter_reset) AS counter_reset,
       sum(power_avg_w) AS power_avg_w, sum(estimated_wh)::bigint AS estimated_wh
  FROM energy_hourly
 GROUP BY station_id, bucket_start;

-- a station's day with no information from any inverter is no row (dividends fill it
-- from the expected yield, as a day without readings)
CREATE VIEW station_energy_daily AS
SELECT station_id, day, sum(energy_wh)::bigint AS energy_wh,
       count(energy_wh) AS inverters_reporting, bool_or(counter_reset) AS counter_reset,
       max(power_max_w) AS power_max_w, sum(estimated_wh)::bigint AS estimated_wh
  FROM energy_daily
 GROUP BY station_id, day
HAVING count(energy_wh) > 0;
