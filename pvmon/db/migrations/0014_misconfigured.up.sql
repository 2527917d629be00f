-- An inverter the collector cannot poll as registered (an unknown register map, invalid
-- endpoint options written before they were validated): reported as an alarm of its own,
-- while every other inverter is polled.
ALTER TABLE alarms DROP CONSTRAINT alarms_kind_check;
ALTER TABLE alarms ADD CONSTRAINT alarms_kind_check
    CHECK (kind IN ('offline', 'no_output', 'fault_code', 'underperforming', 'misconfigured'));
