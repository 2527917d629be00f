-- Registry: places, households, stations, inverters.

CREATE TABLE counties (
    id          bigserial PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    province    text
);

CREATE TABLE townships (
    id          bigserial PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    county_id   bigint NOT NULL REFERENCES counties (id)
);
CREATE INDEX townships_county_idx ON townships (county_id);

CREATE TABLE villages (
    id          bigserial PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    township_id bigint NOT NULL REFERENCES townships (id)
);
CREATE INDEX villages_township_idx ON villages (township_id);

-- Registered poverty files (建档立卡). id_number and bank_account are personal data:
-- stored in full here, masked by every API response, log line and dashboard.
CREATE TABLE households (
    id            bigserial PRIMARY KEY,
    file_no       text NOT NULL UNIQUE,
    name          text NOT NULL,
    village_id    bigint NOT NULL REFERENCES villages (id),
    id_number     text NOT NULL UNIQUE CHECK (id_number ~ '^[0-9]{17}[0-9X]$'),
    bank_name     text,
    bank_account  text CHECK (bank_account IS NULL OR bank_account ~ '^[0-9]{12,30}$'),
    members       smallint NOT NULL DEFAULT 1 CHECK (members > 0),
    served_by_station_id bigint   -- village-sited households: the station whose slot serves them
);
CREATE INDEX households_village_idx ON households (village_id);

-- Poverty status history: when a household entered and (if it did) left poverty.
CREATE TABLE household_poverty_periods (
    household_id bigint NOT NULL REFERENCES households (id) ON DELETE CASCADE,
    entered_on   date NOT NULL,
    left_on      date,
    status       text NOT NULL DEFAULT 'registered'
                 CHECK (status IN ('registered', 'out_of_poverty', 'monitored')),
    PRIMARY KEY (household_id, entered_on),
    CHECK (left_on IS NULL OR left_on >= entered_on)
);

CREATE TABLE stations (
    id                 bigserial PRIMARY KEY,
    code               text NOT NULL UNIQUE,
    name               text NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('household', 'village', 'joint')),
    capacity_kwp       numeric(10, 3) NOT NULL CHECK (capacity_kwp > 0),
    village_id         bigint NOT NULL REFERENCES villages (id),
    latitude           double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude          double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    tilt_deg           double precision NOT NULL DEFAULT 30 CHECK (tilt_deg BETWEEN 0 AND 90),
    azimuth_deg        double precision NOT NULL DEFAULT 180 CHECK (azimuth_deg BETWEEN 0 AND 360),
    commissioned_on    date,
    grid_connected_on  date,
    tariff_ref         text,
    owner_household_id bigint UNIQUE REFERENCES households (id),
    CHECK ((kind = 'household') = (owner_household_id IS NOT NULL))
);
CREATE INDEX stations_village_idx ON stations (village_id);

ALTER TABLE households
    ADD CONSTRAINT households_served_by_station_fk
    FOREIGN KEY (served_by_station_id) REFERENCES stations (id);

-- Joint stations: each village's share of assets and revenue (weights, e.g. capacity).
CREATE TABLE station_village_shares (
    station_id  bigint NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    village_id  bigint NOT NULL REFERENCES villages (id),
    weight      numeric(14, 6) NOT NULL CHECK (weight > 0),
    PRIMARY KEY (station_id, village_id)
);

CREATE TABLE inverters (
    id              bigserial PRIMARY KEY,
    serial          text NOT NULL UNIQUE,
    station_id      bigint NOT NULL REFERENCES stations (id),
    vendor          text NOT NULL,
    model           text NOT NULL,
    rated_ac_w      integer NOT NULL CHECK (rated_ac_w > 0),
    phases          smallint NOT NULL CHECK (phases IN (1, 3)),
    host            text NOT NULL,
    port            integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    unit_id         smallint NOT NULL CHECK (unit_id BETWEEN 0 AND 247),
    framing         text NOT NULL DEFAULT 'tcp' CHECK (framing IN ('tcp', 'rtu-over-tcp')),
    register_map    text NOT NULL,
    poll_interval_s integer NOT NULL DEFAULT 60 CHECK (poll_interval_s BETWEEN 1 AND 86400),
    endpoint_options jsonb NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (host, port, unit_id)
);
CREATE INDEX inverters_station_idx ON inverters (station_id);
