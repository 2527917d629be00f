DROP INDEX dividend_lines_payee_idx;
CREATE INDEX dividend_lines_payee_idx ON dividend_lines (payee_kind, payee_id);
DROP TRIGGER stations_referenced ON stations;
DROP TRIGGER dividend_enrolments_referenced ON dividend_enrolments;
DROP FUNCTION pvmon_referenced_guard();
DROP TRIGGER revenue_lines_keys_upd ON revenue_lines;
DROP TRIGGER revenue_lines_keys_ins ON revenue_lines;
DROP FUNCTION revenue_line_keys();
DROP TRIGGER dividend_payout_claims_keys ON dividend_payout_claims;
DROP FUNCTION dividend_claim_keys();

DROP TRIGGER dividend_lines_frozen_upd ON dividend_lines;
DROP TRIGGER dividend_run_units_frozen_upd ON dividend_run_units;
DROP TRIGGER dividend_run_deductions_frozen_upd ON dividend_run_deductions;
CREATE TRIGGER dividend_lines_frozen_upd AFTER UPDATE ON dividend_lines
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION dividend_frozen_guard();
CREATE TRIGGER dividend_run_units_frozen_upd AFTER UPDATE ON dividend_run_units
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION dividend_frozen_guard();
CREATE TRIGGER dividend_run_deductions_frozen_upd AFTER UPDATE ON dividend_run_deductions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION dividend_frozen_guard();

CREATE OR REPLACE FUNCTION dividend_frozen_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT r.id, r.status INTO bad FROM dividend_runs r
         WHERE r.status <> 'draft' AND r.id IN (SELECT DISTINCT run_id FROM new_rows) LIMIT 1;
    ELSE
        SELECT r.id, r.status INTO bad FROM dividend_runs r
         WHERE r.status <> 'draft' AND r.id IN (SELECT DISTINCT run_id FROM old_rows) LIMIT 1;
    END IF;
    IF bad.id IS NOT NULL THEN
        RAISE EXCEPTION 'dividend run % is %: its % rows cannot be changed', bad.id, bad.status,
            TG_TABLE_NAME USING ERRCODE = 'P0001';
    END IF;
    RETURN NULL;
END $$;

ALTER TABLE revenue_lines ADD CONSTRAINT revenue_lines_station_id_fkey
    FOREIGN KEY (station_id) REFERENCES stations (id);
ALTER TABLE dividend_payout_claims
    ADD CONSTRAINT dividend_payout_claims_line_id_fkey
        FOREIGN KEY (line_id) REFERENCES dividend_lines (id),
    ADD CONSTRAINT dividend_payout_claims_run_id_fkey
        FOREIGN KEY (run_id) REFERENCES dividend_runs (id);
ALTER TABLE dividend_run_deductions ADD CONSTRAINT dividend_run_deductions_run_id_fkey
    FOREIGN KEY (run_id) REFERENCES dividend_runs (id) ON DELETE CASCADE;
ALTER TABLE dividend_run_units ADD CONSTRAINT dividend_run_units_run_id_fkey
    FOREIGN KEY (run_id) REFERENCES dividend_runs (id) ON DELETE CASCADE;
ALTER TABLE dividend_lines
    ADD CONSTRAINT dividend_lines_run_id_fkey
        FOREIGN KEY (run_id) REFERENCES dividend_runs (id) ON DELETE CASCADE,
    ADD CONSTRAINT dividend_lines_enrolment_id_fkey
        FOREIGN KEY (enrolment_id) REFERENCES dividend_enrolments (id),
    ADD CONSTRAINT dividend_lines_reverses_line_id_fkey
        FOREIGN KEY (reverses_line_id) REFERENCES dividend_lines (id);
