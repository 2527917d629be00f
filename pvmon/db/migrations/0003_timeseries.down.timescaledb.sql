DROP MATERIALIZED VIEW readings_daily;
DROP MATERIALIZED VIEW readings_hourly;
SELECT remove_compression_policy('readings', if_exists => true);
-- readings stays a hypertable: converting back is not possible; 0002's down drops it.
