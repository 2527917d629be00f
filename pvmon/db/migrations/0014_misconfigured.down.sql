DELETE FROM alarms WHERE kind = 'misconfigured';
ALTER TABLE alarms DROP CONSTRAINT alarms_kind_check;
ALTER TABLE alarms ADD CONSTRAINT alarms_kind_check
    CHECK (kind IN ('offline', 'no_output', 'fault_code', 'underperforming'));
