-- Keys of the bulk tables checked once per statement, not once per row.
--
-- A province's run writes about five million rows (revenue lines, deductions, units,
-- lines) and its approval 1.2 million claims. A foreign key checks each row on its own
-- (a query and a row lock on the referenced row per row): about 40 s of a 120 s run, 22 s
-- of an approval and 25 s of deleting a recomputed draft's lines. The same rules, checked
-- once per statement over its transition table:
--
-- - lines, units and deductions belong to a run that exists and is a draft (the freeze
--   guard already looked at those runs), locked against deletion as a key would lock
--   them (a run is never deleted: its history refers to it);
-- - a line's enrolment exists; a reversal line reverses a line of a run that is no longer
--   a draft (frozen, so it can never be deleted under it);
-- - a claim is for a line of its run, once the run is approved (frozen likewise);
-- - a revenue line's station exists;
-- - enrolments and stations with lines are not deleted (ended, never deleted).
--
-- Violations raise foreign_key_violation (SQLSTATE 23503), as the keys did.
ALTER TABLE dividend_lines
    DROP CONSTRAINT dividend_lines_run_id_fkey,
    DROP CONSTRAINT dividend_lines_enrolment_id_fkey,
    DROP CONSTRAINT dividend_lines_reverses_line_id_fkey;
ALTER TABLE dividend_run_units DROP CONSTRAINT dividend_run_units_run_id_fkey;
ALTER TABLE dividend_run_deductions DROP CONSTRAINT dividend_run_deductions_run_id_fkey;
ALTER TABLE dividend_payout_claims
    DROP CONSTRAINT dividend_payout_claims_line_id_fkey,
    DROP CONSTRAINT dividend_payout_claims_run_id_fkey;
ALTER TABLE revenue_lines DROP CONSTRAINT revenue_lines_station_id_fkey;

CREATE OR REPLACE FUNCTION dividend_frozen_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT r.id, r.status INTO bad FROM dividend_runs r
         WHERE r.status <> 'draft' AND r.id IN (SELECT DISTINCT run_id FROM old_rows) LIMIT 1;
        IF bad.id IS NOT NULL THEN
            RAISE EXCEPTION 'dividend run % is %: its % rows cannot be changed', bad.id,
                bad.status, TG_TABLE_NAME USING ERRCODE = 'P0001';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN NULL;
    END IF;
    -- the runs written to: kept from deletion until this transaction ends, as a key would
    PERFORM 1 FROM dividend_runs WHERE id IN (SELECT DISTINCT run_id FROM new_rows)
        FOR KEY SHARE;
    SELECT n.run_id AS id, r.status INTO bad
      FROM (SELECT DISTINCT run_id FROM new_rows) n
      LEFT JOIN dividend_runs r ON r.id = n.run_id
     WHERE r.id IS NULL OR r.status <> 'draft' LIMIT 1;
    IF bad.id IS NOT NULL AND bad.status IS NULL THEN
        RAISE EXCEPTION '% rows for dividend run %, which does not exist', TG_TABLE_NAME,
            bad.id USING ERRCODE = 'foreign_key_violation';
    ELSIF bad.id IS NOT NULL THEN
        RAISE EXCEPTION 'dividend run % is %: its % rows cannot be changed', bad.id,
            bad.status, TG_TABLE_NAME USING ERRCODE = 'P0001';
    END IF;
    IF TG_TABLE_NAME = 'dividend_lines' THEN
        SELECT n.id, n.enrolment_id INTO bad FROM new_rows n
         WHERE NOT EXISTS (SELECT 1 FROM dividend_enrolments e WHERE e.id = n.enrolment_id)
         LIMIT 1;
        IF bad.id IS NOT NULL THEN
            RAISE EXCEPTION 'dividend line % is for enrolment %, which does not exist',
                bad.id, bad.enrolment_id USING ERRCODE = 'foreign_key_violation';
        END IF;
        SELECT n.id, n.reverses_line_id INTO bad FROM new_rows n
          LEFT JOIN dividend_lines o ON o.id = n.reverses_line_id
          LEFT JOIN dividend_runs r ON r.id = o.run_id
         WHERE n.reverses_line_id IS NOT NULL AND (r.id IS NULL OR r.status = 'draft')
         LIMIT 1;
        IF bad.id IS NOT NULL THEN
            RAISE EXCEPTION 'dividend line % reverses line %, which is not a line of an '
                'approved run', bad.id, bad.reverses_line_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER dividend_lines_frozen_upd ON dividend_lines;
DROP TRIGGER dividend_run_units_frozen_upd ON dividend_run_units;
DROP TRIGGER dividend_run_deductions_frozen_upd ON dividend_run_deductions;
CREATE TRIGGER dividend_lines_frozen_upd AFTER UPDATE ON dividend_lines
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dividend_frozen_guard();
CREATE TRIGGER dividend_run_units_frozen_upd AFTER UPDATE ON dividend_run_units
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dividend_frozen_guard();
CREATE TRIGGER dividend_run_deductions_frozen_upd AFTER UPDATE ON dividend_run_deductions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dividend_frozen_guard();

-- a claim is made for a line of its own run as the run is approved
CREATE FUNCTION dividend_claim_keys() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.run_id AS id, r.status INTO bad
      FROM (SELECT DISTINCT run_id FROM new_rows) n
      LEFT JOIN dividend_runs r ON r.id = n.run_id
     WHERE r.id IS NULL OR r.status IN ('draft', 'discarded') LIMIT 1;
    IF bad.id IS NOT NULL THEN
        RAISE EXCEPTION 'payout claims for dividend run %, which is %', bad.id,
            coalesce(bad.status, 'missing') USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT n.line_id AS id, n.run_id INTO bad FROM new_rows n
     WHERE NOT EXISTS (SELECT 1 FROM dividend_lines l
                        WHERE l.id = n.line_id AND l.run_id = n.run_id)
     LIMIT 1;
    IF bad.id IS NOT NULL THEN
        RAISE EXCEPTION 'payout claim for line %, which is not a line of run %', bad.id,
            bad.run_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER dividend_payout_claims_keys AFTER INSERT ON dividend_payout_claims
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dividend_claim_keys();

CREATE FUNCTION revenue_line_keys() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT n.station_id INTO missing FROM new_rows n
     WHERE NOT EXISTS (SELECT 1 FROM stations s WHERE s.id = n.station_id) LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'revenue line for station %, which does not exist', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER revenue_lines_keys_ins AFTER INSERT ON revenue_lines
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION revenue_line_keys();
CREATE TRIGGER revenue_lines_keys_upd AFTER UPDATE ON revenue_lines
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION revenue_line_keys();

-- what lines and revenue lines refer to is not deleted under them: the table is locked
-- against writers first, so a line written concurrently is seen
CREATE FUNCTION pvmon_referenced_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    used bigint;
BEGIN
    IF TG_TABLE_NAME = 'dividend_enrolments' THEN
        LOCK TABLE dividend_lines IN SHARE MODE;
        SELECT o.id INTO used FROM old_rows o
         WHERE EXISTS (SELECT 1 FROM dividend_lines l WHERE l.enrolment_id = o.id) LIMIT 1;
    ELSE
        LOCK TABLE revenue_lines IN SHARE MODE;
        SELECT o.id INTO used FROM old_rows o
         WHERE EXISTS (SELECT 1 FROM revenue_lines l WHERE l.station_id = o.id) LIMIT 1;
    END IF;
    IF used IS NOT NULL THEN
        RAISE EXCEPTION '% row % has dividend or revenue lines and cannot be deleted',
            TG_TABLE_NAME, used USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER dividend_enrolments_referenced AFTER DELETE ON dividend_enrolments
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pvmon_referenced_guard();
CREATE TRIGGER stations_referenced AFTER DELETE ON stations
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pvmon_referenced_guard();

-- a payee's lines by its id first: a run's lines arrive in payee order within each kind,
-- so new entries land at the index's right edge instead of in two interleaved places
-- (half the index's cost of a province's COPY); every query asks for kind and id
DROP INDEX dividend_lines_payee_idx;
CREATE INDEX dividend_lines_payee_idx ON dividend_lines (payee_id, payee_kind);
