-- TimescaleDB: the daily rollup is a continuous aggregate (no trigger sees its rows);
-- pvmon.db.rollups.refresh_rollups forgets kept energy from where it refreshes.
SELECT 1;
