-- Availability and lost energy (issue 23): each station's O&M contractor, and the
-- maintenance windows operators record (losses inside one are the contractor's
-- planned work, cause 'maintenance').
ALTER TABLE stations ADD COLUMN om_contractor text;

CREATE TABLE maintenance_windows (
    id          bigserial PRIMARY KEY,
    station_id  bigint NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX maintenance_windows_station_idx ON maintenance_windows (station_id, starts_at);
