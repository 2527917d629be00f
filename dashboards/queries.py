"""The SQL behind every panel, as plain strings with Grafana's macros and variables.

Only view and table names of the schema are used (see ``pvmon/db/migrations``). Time
series switch source by the length of the dashboard's range: raw ``readings`` for
ranges up to :data:`RAW_MAX` and the hourly/daily aggregates (``readings_hourly``,
``station_energy_daily``) beyond it. The switch is a pair of ``UNION ALL`` branches
whose conditions depend only on the range, so PostgreSQL evaluates them once and never
executes the branch that is switched off.

Variables: ``$county``, ``$township``, ``$village`` and (on the fleet dashboard)
``$station`` are multi-value with an *All* value of ``-1`` (Grafana inserts a custom
all-value unquoted, a selection as quoted ids), hence the ``(-1 IN ($v) OR x IN ($v))``
form. On the station and inverter dashboards ``$station`` and ``$inverter`` are single
ids.
"""

from __future__ import annotations

__all__ = [
    "ALL_VALUE",
    "LOCAL_TZ",
    "RAW_MAX",
    "dividends",
    "fleet",
    "inverter",
    "station",
    "variables",
]

ALL_VALUE = "-1"
LOCAL_TZ = "Asia/Shanghai"
RAW_MAX = "2 days"

_SHORT = f"$__timeTo()::timestamptz - $__timeFrom()::timestamptz <= INTERVAL '{RAW_MAX}'"
_LONG = f"$__timeTo()::timestamptz - $__timeFrom()::timestamptz > INTERVAL '{RAW_MAX}'"
_DAY_FROM = f"($__timeFrom()::timestamptz AT TIME ZONE '{LOCAL_TZ}')::date"
_DAY_TO = f"($__timeTo()::timestamptz AT TIME ZONE '{LOCAL_TZ}')::date"
_DAY_TIME = f"(e.day::timestamp AT TIME ZONE '{LOCAL_TZ}')"


def _any(var: str, column: str) -> str:
    return f"(-1 IN (${var}) OR {column} IN (${var}))"


_PLACE_FILTER = " AND ".join(
    [
        _any("county", "t.county_id"),
        _any("township", "v.township_id"),
        _any("village", "s.village_id"),
    ]
)

# Stations in the fleet dashboard's scope.
_FLEET_SCOPE = f"""
WITH sc AS (
    SELECT s.id AS station_id, s.code, sl.label AS name, s.kind, s.capacity_kwp::float8 AS kwp,
           s.latitude, s.longitude
      FROM stations s
      JOIN station_labels sl ON sl.station_id = s.id
      JOIN villages v ON v.id = s.village_id
      JOIN townships t ON t.id = v.township_id
     WHERE {_PLACE_FILTER}
       AND {_any("station", "s.id")}
)"""


def _power_per_inverter(inverters: str) -> str:
    """Average AC power per inverter and time group, raw when short, hourly when long.

    ``inverters`` is a relation with an ``inverter_id`` column.
    """
    return f"""
    SELECT $__timeGroup(r.time, $__interval) AS t, r.inverter_id, avg(r.ac_power_w) AS w
      FROM readings r JOIN {inverters} USING (inverter_id)
     WHERE $__timeFilter(r.time) AND {_SHORT}
     GROUP BY 1, 2
    UNION ALL
    SELECT $__timeGroup(h.bucket, $__interval) AS t, h.inverter_id, avg(h.power_avg_w) AS w
      FROM readings_hourly h JOIN {inverters} USING (inverter_id)
     WHERE $__timeFilter(h.bucket) AND {_LONG}
     GROUP BY 1, 2"""


class variables:
    """Queries of the template variables (``__value`` id, ``__text`` label)."""

    county = "SELECT id AS __value, name AS __text FROM counties ORDER BY name"
    township = f"""
        SELECT t.id AS __value, t.name AS __text
          FROM townships t
         WHERE {_any("county", "t.county_id")}
         ORDER BY t.name"""
    village = f"""
        SELECT v.id AS __value, t.name || ' / ' || v.name AS __text
          FROM villages v JOIN townships t ON t.id = v.township_id
         WHERE {_any("county", "t.county_id")} AND {_any("township", "v.township_id")}
         ORDER BY 2"""
    station = f"""
        SELECT s.id AS __value, s.code || ' ' || sl.label AS __text
          FROM stations s
          JOIN station_labels sl ON sl.station_id = s.id
          JOIN villages v ON v.id = s.village_id
          JOIN townships t ON t.id = v.township_id
         WHERE {_PLACE_FILTER}
         ORDER BY s.code"""
    inverter = """
        SELECT i.id AS __value, i.serial AS __text
          FROM inverters i
         WHERE i.station_id = $station
         ORDER BY i.serial"""


class fleet:
    """Fleet overview."""

    current_power = f"""
        {_FLEET_SCOPE}
        SELECT coalesce(sum(r.ac_power_w), 0) / 1000.0 AS power_kw
          FROM sc
          JOIN inverters i ON i.station_id = sc.station_id
         CROSS JOIN LATERAL (
               SELECT x.ac_power_w FROM readings x
                WHERE x.inverter_id = i.id
                  AND x.time <= $__timeTo()
                  AND x.time > $__timeTo()::timestamptz - INTERVAL '15 minutes'
                ORDER BY x.time DESC LIMIT 1) r"""

    @staticmethod
    def energy_since(unit: str) -> str:
        """Energy from the start of the local ``unit`` (day, month, year) to the range end."""
        return f"""
        {_FLEET_SCOPE}
        SELECT coalesce(sum(e.energy_wh), 0) / 1000.0 AS energy_kwh
          FROM sc JOIN station_energy_daily e ON e.station_id = sc.station_id
         WHERE e.day >= date_trunc('{unit}',
                                   $__timeTo()::timestamptz AT TIME ZONE '{LOCAL_TZ}')::date
           AND e.day <= {_DAY_TO}"""

    online_ratio = f"""
        {_FLEET_SCOPE}
        SELECT coalesce(avg(CASE WHEN h.state IN ('online', 'sleeping') THEN 1.0 ELSE 0.0 END),
                        0)::float8 AS online_ratio
          FROM sc
          JOIN inverters i ON i.station_id = sc.station_id
          LEFT JOIN inverter_health h ON h.inverter_id = i.id"""

    station_map = f"""
        {_FLEET_SCOPE},
        st AS (
            SELECT i.station_id,
                   max(CASE h.state WHEN 'online' THEN 0 WHEN 'sleeping' THEN 1
                                    WHEN 'fault' THEN 3 ELSE 2 END) AS state_rank
              FROM inverters i LEFT JOIN inverter_health h ON h.inverter_id = i.id
             GROUP BY i.station_id
        )
        SELECT sc.code AS station, sc.name, sc.kind, sc.kwp AS capacity_kwp,
               sc.latitude, sc.longitude, st.state_rank,
               CASE st.state_rank WHEN 0 THEN 'online' WHEN 1 THEN 'sleeping'
                                  WHEN 2 THEN 'offline' ELSE 'fault' END AS state
          FROM sc JOIN st USING (station_id)
         ORDER BY sc.code"""

    worst_today = f"""
        {_FLEET_SCOPE},
        today AS (
            SELECT sc.code AS station, sc.name, sc.kind, sc.kwp AS capacity_kwp,
                   coalesce(e.energy_wh, 0) / 1000.0 AS energy_kwh,
                   coalesce(e.energy_wh, 0) / 1000.0 / sc.kwp AS yield_kwh_per_kwp
              FROM sc
              LEFT JOIN station_energy_daily e
                ON e.station_id = sc.station_id AND e.day = {_DAY_TO}
        )
        SELECT station, name, kind, capacity_kwp, energy_kwh, yield_kwh_per_kwp,
               yield_kwh_per_kwp / nullif((SELECT percentile_cont(0.5) WITHIN GROUP
                                               (ORDER BY yield_kwh_per_kwp) FROM today), 0)
                   AS vs_median
          FROM today
         ORDER BY vs_median NULLS FIRST, station
         LIMIT 10"""

    open_alarms = f"""
        {_FLEET_SCOPE}
        SELECT a.opened_at AS opened, sc.code AS station, i.serial AS inverter, a.kind,
               a.reason, a.acknowledged_at IS NOT NULL AS acknowledged
          FROM alarms a
          JOIN sc ON sc.station_id = a.station_id
          LEFT JOIN inverters i ON i.id = a.inverter_id
         WHERE a.closed_at IS NULL
         ORDER BY a.opened_at DESC
         LIMIT 500"""

    power = f"""
        {_FLEET_SCOPE},
        inv AS (SELECT i.id AS inverter_id FROM inverters i JOIN sc USING (station_id)),
        pw AS ({_power_per_inverter("inv")})
        SELECT t AS time, sum(w) / 1000.0 AS power_kw
          FROM pw GROUP BY t ORDER BY t"""

    daily_energy = f"""
        {_FLEET_SCOPE}
        SELECT {_DAY_TIME} AS time, sum(e.energy_wh) / 1000.0 AS energy_kwh
          FROM sc JOIN station_energy_daily e ON e.station_id = sc.station_id
         WHERE e.day BETWEEN {_DAY_FROM} AND {_DAY_TO}
         GROUP BY e.day ORDER BY e.day"""


# The selected station and its peers (stations of the same township, which see the
# same sun): expected output is the peers' median specific output times the capacity.
_PEERS = """
WITH me AS (
    SELECT s.id, s.capacity_kwp::float8 AS kwp, v.township_id
      FROM stations s JOIN villages v ON v.id = s.village_id
     WHERE s.id = $station
),
peers AS (
    SELECT s.id AS station_id, s.capacity_kwp::float8 AS kwp
      FROM stations s JOIN villages v ON v.id = s.village_id
      JOIN me ON me.township_id = v.township_id
)"""


class station:
    """One station."""

    power_vs_expected = f"""
        {_PEERS},
        inv AS (SELECT i.id AS inverter_id, i.station_id
                  FROM inverters i JOIN peers USING (station_id)),
        pw AS ({_power_per_inverter("inv")}),
        st AS (SELECT pw.t, inv.station_id, sum(pw.w) AS w
                 FROM pw JOIN inv USING (inverter_id) GROUP BY 1, 2)
        SELECT st.t AS time,
               max(st.w) FILTER (WHERE st.station_id = me.id) / 1000.0 AS power_kw,
               me.kwp * percentile_cont(0.5) WITHIN GROUP (ORDER BY st.w / p.kwp) / 1000.0
                   AS expected_kw
          FROM st JOIN peers p USING (station_id) CROSS JOIN me
         GROUP BY st.t, me.kwp
         ORDER BY 1"""

    inverter_power = f"""
        WITH inv AS (SELECT i.id AS inverter_id, i.serial FROM inverters i
                      WHERE i.station_id = $station),
        pw AS ({_power_per_inverter("inv")})
        SELECT pw.t AS time, inv.serial AS metric, pw.w AS power_w
          FROM pw JOIN inv USING (inverter_id)
         ORDER BY 1, 2"""

    daily_energy = f"""
        SELECT {_DAY_TIME} AS time, e.energy_wh / 1000.0 AS energy_kwh
          FROM station_energy_daily e
         WHERE e.station_id = $station AND e.day BETWEEN {_DAY_FROM} AND {_DAY_TO}
         ORDER BY e.day"""

    performance_ratio = f"""
        {_PEERS},
        d AS (
            SELECT e.day, e.station_id, e.energy_wh / 1000.0 / p.kwp AS yield
              FROM station_energy_daily e JOIN peers p USING (station_id)
             WHERE e.day BETWEEN {_DAY_FROM} AND {_DAY_TO}
        )
        SELECT (d.day::timestamp AT TIME ZONE '{LOCAL_TZ}') AS time,
               (max(d.yield) FILTER (WHERE d.station_id = me.id)
                / nullif(percentile_cont(0.5) WITHIN GROUP (ORDER BY d.yield), 0))::float8
                   AS performance_ratio
          FROM d CROSS JOIN me
         GROUP BY d.day
         ORDER BY d.day"""

    alarms = """
        SELECT a.opened_at AS opened, a.closed_at AS closed, i.serial AS inverter, a.kind,
               a.reason, a.close_reason,
               extract(epoch FROM coalesce(a.closed_at, $__timeTo()::timestamptz)
                                  - a.opened_at)::float8 AS duration_s
          FROM alarms a LEFT JOIN inverters i ON i.id = a.inverter_id
         WHERE a.station_id = $station
           AND a.opened_at <= $__timeTo()
           AND (a.closed_at IS NULL OR a.closed_at >= $__timeFrom())
         ORDER BY a.opened_at DESC"""


class inverter:
    """One inverter."""

    health = """
        SELECT CASE h.state WHEN 'online' THEN 0 WHEN 'sleeping' THEN 1 WHEN 'fault' THEN 3
                            ELSE 2 END AS state_rank
          FROM inverters i LEFT JOIN inverter_health h ON h.inverter_id = i.id
         WHERE i.id = $inverter"""

    power = f"""
        SELECT $__timeGroupAlias(r.time, $__interval), avg(r.ac_power_w)::float8 AS ac_power_w,
               avg(r.dc_power_w)::float8 AS dc_power_w, max(r.ac_power_w)::float8 AS ac_power_max_w
          FROM readings r
         WHERE r.inverter_id = $inverter AND $__timeFilter(r.time) AND {_SHORT}
         GROUP BY 1
        UNION ALL
        SELECT $__timeGroupAlias(h.bucket, $__interval), avg(h.power_avg_w)::float8,
               NULL::float8, max(h.power_max_w)::float8
          FROM readings_hourly h
         WHERE h.inverter_id = $inverter AND $__timeFilter(h.bucket) AND {_LONG}
         GROUP BY 1
         ORDER BY 1"""

    temperature = f"""
        SELECT $__timeGroupAlias(r.time, $__interval), max(r.temperature_c)::float8 AS temperature_c
          FROM readings r
         WHERE r.inverter_id = $inverter AND $__timeFilter(r.time) AND {_SHORT}
         GROUP BY 1
        UNION ALL
        SELECT $__timeGroupAlias(h.bucket, $__interval), max(h.temperature_max_c)::float8
          FROM readings_hourly h
         WHERE h.inverter_id = $inverter AND $__timeFilter(h.bucket) AND {_LONG}
         GROUP BY 1
         ORDER BY 1"""

    # Voltages, currents and frequency have no aggregate: one inverter's raw rows, grouped
    # to the panel's interval (a primary-key range scan of a single inverter).
    ac_voltage = """
        SELECT $__timeGroupAlias(r.time, $__interval),
               avg(r.ac_voltage_a_v)::float8 AS voltage_a_v,
               avg(r.ac_voltage_b_v)::float8 AS voltage_b_v,
               avg(r.ac_voltage_c_v)::float8 AS voltage_c_v
          FROM readings r
         WHERE r.inverter_id = $inverter AND $__timeFilter(r.time)
         GROUP BY 1 ORDER BY 1"""

    ac_current = """
        SELECT $__timeGroupAlias(r.time, $__interval),
               avg(r.ac_current_a_a)::float8 AS current_a_a,
               avg(r.ac_current_b_a)::float8 AS current_b_a,
               avg(r.ac_current_c_a)::float8 AS current_c_a
          FROM readings r
         WHERE r.inverter_id = $inverter AND $__timeFilter(r.time)
         GROUP BY 1 ORDER BY 1"""

    frequency = """
        SELECT $__timeGroupAlias(r.time, $__interval), avg(r.frequency_hz)::float8 AS frequency_hz
          FROM readings r
         WHERE r.inverter_id = $inverter AND $__timeFilter(r.time)
         GROUP BY 1 ORDER BY 1"""

    # The last operating state of each interval (table format: the state is a string).
    operating_state = """
        SELECT to_timestamp(floor(extract(epoch FROM r.time) / $__interval_ms * 1000)
                            * $__interval_ms / 1000) AS time,
               (array_agg(coalesce(os.name, 'code ' || r.state) ORDER BY r.time DESC))[1]
                   AS state
          FROM readings r LEFT JOIN operating_states os ON os.code = r.state
         WHERE r.inverter_id = $inverter AND $__timeFilter(r.time) AND r.state IS NOT NULL
         GROUP BY 1 ORDER BY 1"""

    fault_codes = """
        SELECT min(r.time) AS first_seen, max(r.time) AS last_seen, r.event_code,
               to_hex(r.event_code) AS event_code_hex, count(*) AS readings
          FROM readings r
         WHERE r.inverter_id = $inverter AND $__timeFilter(r.time)
           AND r.event_code IS NOT NULL AND r.event_code <> 0
         GROUP BY r.event_code
         ORDER BY first_seen DESC"""

    alarms = """
        SELECT a.opened_at AS opened, a.closed_at AS closed, a.kind, a.reason, a.close_reason
          FROM alarms a
         WHERE a.inverter_id = $inverter
           AND a.opened_at <= $__timeTo()
           AND (a.closed_at IS NULL OR a.closed_at >= $__timeFrom())
         ORDER BY a.opened_at DESC"""


# Villages in scope and the runs whose period overlaps the range.
_DIVIDEND_SCOPE = f"""
WITH vs AS (
    SELECT v.id AS village_id, v.name AS village, t.name AS township
      FROM villages v JOIN townships t ON t.id = v.township_id
     WHERE {_any("county", "t.county_id")}
       AND {_any("township", "v.township_id")}
       AND {_any("village", "v.id")}
),
runs AS (
    SELECT r.id AS run_id, r.kind AS run_kind
      FROM dividend_runs r
     WHERE r.status IN ($run_status)
       AND r.period_start <= {_DAY_TO} AND r.period_end > {_DAY_FROM}
)"""


class dividends:
    """Dividend payouts, coverage, shortfalls and arrears (money in yuan from fen)."""

    paid_total = f"""
        {_DIVIDEND_SCOPE}
        SELECT coalesce(sum(l.amount_fen), 0) / 100.0 AS paid_yuan
          FROM dividend_lines l
          JOIN runs USING (run_id)
          JOIN vs ON vs.village_id = l.unit_village_id"""

    coverage_total = f"""
        {_DIVIDEND_SCOPE}
        SELECT (sum(u.available_fen)::numeric / nullif(sum(u.obligations_fen), 0))::float8
                   AS coverage_ratio
          FROM dividend_run_units u
          JOIN runs USING (run_id)
          JOIN vs USING (village_id)
         WHERE runs.run_kind = 'regular'"""

    shortfall_total = f"""
        {_DIVIDEND_SCOPE}
        SELECT coalesce(sum(u.obligations_fen - u.paid_fen), 0) / 100.0 AS unpaid_yuan
          FROM dividend_run_units u
          JOIN runs USING (run_id)
          JOIN vs USING (village_id)
         WHERE runs.run_kind = 'regular'"""

    payouts_by_year = f"""
        {_DIVIDEND_SCOPE}
        SELECT make_timestamptz(extract(year FROM l.period_start)::int, 1, 1, 0, 0, 0,
                                '{LOCAL_TZ}') AS time,
               sum(l.amount_fen) / 100.0 AS paid_yuan
          FROM dividend_lines l
          JOIN runs USING (run_id)
          JOIN vs ON vs.village_id = l.unit_village_id
         GROUP BY 1 ORDER BY 1"""

    payouts_by_village = f"""
        {_DIVIDEND_SCOPE}
        SELECT extract(year FROM l.period_start)::int AS year, vs.township, vs.village,
               sum(l.amount_fen) / 100.0 AS paid_yuan,
               count(DISTINCT (l.payee_kind, l.payee_id)) AS payees
          FROM dividend_lines l
          JOIN runs USING (run_id)
          JOIN vs ON vs.village_id = l.unit_village_id
         GROUP BY 1, 2, 3
         ORDER BY 1 DESC, 2, 3"""

    coverage = f"""
        {_DIVIDEND_SCOPE}
        SELECT extract(year FROM r.period_start)::int AS year, vs.township, vs.village,
               sum(u.revenue_benchmark_fen + u.revenue_subsidy_fen) / 100.0 AS revenue_yuan,
               sum(u.deductions_fen) / 100.0 AS deductions_yuan,
               sum(u.available_fen) / 100.0 AS available_yuan,
               sum(u.obligations_fen) / 100.0 AS obligations_yuan,
               (sum(u.available_fen)::numeric / nullif(sum(u.obligations_fen), 0))::float8
                   AS coverage_ratio
          FROM dividend_run_units u
          JOIN runs USING (run_id)
          JOIN dividend_runs r ON r.id = u.run_id
          JOIN vs USING (village_id)
         WHERE runs.run_kind = 'regular'
         GROUP BY 1, 2, 3
         ORDER BY coverage_ratio NULLS FIRST, 1 DESC, 2, 3"""

    shortfalls = f"""
        {_DIVIDEND_SCOPE}
        SELECT extract(year FROM r.period_start)::int AS year, vs.township, vs.village,
               s.code AS station, u.obligations_fen / 100.0 AS obligations_yuan,
               u.paid_fen / 100.0 AS paid_yuan,
               (u.obligations_fen - u.paid_fen) / 100.0 AS unpaid_yuan,
               u.shortfall_fen / 100.0 AS guarantor_shortfall_yuan
          FROM dividend_run_units u
          JOIN runs USING (run_id)
          JOIN dividend_runs r ON r.id = u.run_id
          JOIN vs USING (village_id)
          JOIN stations s ON s.id = u.station_id
         WHERE runs.run_kind = 'regular'
           AND (u.paid_fen < u.obligations_fen OR u.shortfall_fen > 0)
         ORDER BY unpaid_yuan DESC, 1 DESC, 4"""

    arrears = f"""
        {_DIVIDEND_SCOPE},
        payee AS (
            SELECT l.unit_village_id AS village_id, l.payee_kind, l.payee_id,
                   sum(l.arrears_added_fen) AS added_fen, sum(l.arrears_paid_fen) AS paid_fen
              FROM dividend_lines l JOIN runs USING (run_id)
             GROUP BY 1, 2, 3
        )
        SELECT vs.township, vs.village,
               sum(p.added_fen) / 100.0 AS arrears_added_yuan,
               sum(p.paid_fen) / 100.0 AS arrears_paid_yuan,
               sum(p.added_fen - p.paid_fen) / 100.0 AS outstanding_yuan,
               count(*) FILTER (WHERE p.added_fen > p.paid_fen) AS payees_owed
          FROM payee p JOIN vs USING (village_id)
         GROUP BY 1, 2
         HAVING sum(p.added_fen) > 0
         ORDER BY outstanding_yuan DESC, 1, 2"""


class availability:
    """Availability and lost energy per station-day (``station_availability_daily``,
    kept by the collector every hour for yesterday and today)."""

    _DAYS = f"""
        {_FLEET_SCOPE},
        ad AS (
            SELECT a.*, sc.code, sc.name
              FROM sc JOIN station_availability_daily a ON a.station_id = sc.station_id
             WHERE a.day >= {_DAY_FROM} AND a.day <= {_DAY_TO}
        )"""

    time_availability = f"""
        {_DAYS}
        SELECT (sum(available_s)::float8 / nullif(sum(period_s), 0)) AS time_availability
          FROM ad"""

    energy_availability = f"""
        {_DAYS}
        SELECT (sum(actual_wh)::float8 / nullif(sum(actual_wh + lost_grid_wh
                + lost_inverter_fault_wh + lost_communication_wh + lost_maintenance_wh), 0))
                AS energy_availability
          FROM ad"""

    lost_energy = f"""
        {_DAYS}
        SELECT coalesce(sum(lost_grid_wh + lost_inverter_fault_wh + lost_communication_wh
                            + lost_maintenance_wh), 0) / 1000.0 AS lost_kwh
          FROM ad"""

    lost_by_cause = f"""
        {_DAYS}
        SELECT (ad.day::timestamp AT TIME ZONE '{LOCAL_TZ}') AS time,
               sum(lost_grid_wh) / 1000.0 AS grid_kwh,
               sum(lost_inverter_fault_wh) / 1000.0 AS inverter_fault_kwh,
               sum(lost_maintenance_wh) / 1000.0 AS maintenance_kwh
          FROM ad GROUP BY ad.day ORDER BY 1"""

    daily = f"""
        {_DAYS}
        SELECT (ad.day::timestamp AT TIME ZONE '{LOCAL_TZ}') AS time,
               (sum(available_s)::float8 / nullif(sum(period_s), 0)) AS time_availability
          FROM ad GROUP BY ad.day ORDER BY 1"""

    stations = f"""
        {_DAYS}
        SELECT ad.code AS station, ad.name,
               (sum(available_s)::float8 / nullif(sum(period_s), 0)) AS time_availability,
               sum(actual_wh) / 1000.0 AS actual_kwh,
               sum(lost_grid_wh) / 1000.0 AS lost_grid_kwh,
               sum(lost_inverter_fault_wh) / 1000.0 AS lost_inverter_fault_kwh,
               sum(lost_maintenance_wh) / 1000.0 AS lost_maintenance_kwh
          FROM ad GROUP BY ad.code, ad.name
         ORDER BY time_availability NULLS LAST, lost_inverter_fault_kwh DESC, station"""
