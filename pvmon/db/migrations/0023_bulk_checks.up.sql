-- Cheaper bulk writes of a run's lines and revenue lines (a province's run: 1.2 M lines,
-- 1.6 M revenue lines).
--
-- - dividend_lines_enrolment_idx goes: no query looks lines up by enrolment (a payee's
--   history uses the payee index, arrears the partial arrears index), and it cost about
--   5 s of every province run's writing. Deleting an enrolment (which nothing does: they
--   are ended) now scans the lines to refuse it.
-- - The statement-level key checks of 0021 lose their LIMIT 1 on the anti-joins: with it
--   the planner chose a nested loop of an index probe per written row, expecting an early
--   hit that never comes when all is well (1.6 M probes, 2.5 s); without it a big
--   statement is checked by a hash anti-join and a small one still by probes.
DROP INDEX dividend_lines_enrolment_idx;

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
         WHERE NOT EXISTS (SELECT 1 FROM dividend_enrolments e WHERE e.id = n.enrolment_id);
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

CREATE OR REPLACE FUNCTION dividend_claim_keys() RETURNS trigger LANGUAGE plpgsql AS $$
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
                        WHERE l.id = n.line_id AND l.run_id = n.run_id);
    IF bad.id IS NOT NULL THEN
        RAISE EXCEPTION 'payout claim for line %, which is not a line of run %', bad.id,
            bad.run_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION revenue_line_keys() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT n.station_id INTO missing FROM new_rows n
     WHERE NOT EXISTS (SELECT 1 FROM stations s WHERE s.id = n.station_id);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'revenue line for station %, which does not exist', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
