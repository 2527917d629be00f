DROP TABLE inverters;
DROP TABLE station_village_shares;
ALTER TABLE households DROP CONSTRAINT households_served_by_station_fk;
DROP TABLE stations;
DROP TABLE household_poverty_periods;
DROP TABLE households;
DROP TABLE villages;
DROP TABLE townships;
DROP TABLE counties;
