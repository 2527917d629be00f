-- Who did what to a run, and when: one row per state change (created, recomputed,
-- approved, exported, paid, adjusted, discarded). Append-only: the application may
-- insert, never change or delete. The makers of a draft are the actors of its
-- 'created' and 'recomputed' events; none of them may approve it.
CREATE TABLE dividend_run_events (
    id       bigserial PRIMARY KEY,
    run_id   bigint NOT NULL REFERENCES dividend_runs (id),
    event    text NOT NULL CHECK (event IN ('created', 'recomputed', 'approved', 'exported',
                                            'paid', 'adjusted', 'discarded')),
    actor    text NOT NULL CHECK (actor <> ''),
    at       timestamptz NOT NULL DEFAULT now(),
    detail   text NOT NULL DEFAULT ''
);
CREATE INDEX dividend_run_events_run_idx ON dividend_run_events (run_id, id);

-- runs computed before this migration: their creation (and approval) as events
INSERT INTO dividend_run_events (run_id, event, actor, at)
SELECT id, 'created', created_by, created_at FROM dividend_runs;
INSERT INTO dividend_run_events (run_id, event, actor, at)
SELECT id, 'approved', approved_by, approved_at FROM dividend_runs WHERE approved_by IS NOT NULL;

CREATE FUNCTION pvmon_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows cannot be changed or deleted', TG_TABLE_NAME
        USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER dividend_run_events_append_only BEFORE UPDATE OR DELETE ON dividend_run_events
    FOR EACH ROW EXECUTE FUNCTION pvmon_append_only();
-- a claim is the double-payment guard: once made it is never changed or removed
CREATE TRIGGER dividend_payout_claims_append_only BEFORE UPDATE OR DELETE
    ON dividend_payout_claims FOR EACH ROW EXECUTE FUNCTION pvmon_append_only();

-- a draft can be discarded: kept (with its history), without lines, frozen
ALTER TABLE dividend_runs DROP CONSTRAINT dividend_runs_status_check;
ALTER TABLE dividend_runs ADD CONSTRAINT dividend_runs_status_check
    CHECK (status IN ('draft', 'approved', 'exported', 'paid', 'discarded'));
ALTER TABLE dividend_runs DROP CONSTRAINT dividend_runs_check1;
ALTER TABLE dividend_runs ADD CONSTRAINT dividend_runs_approved_check
    CHECK ((status IN ('draft', 'discarded')) = (approved_by IS NULL));

CREATE OR REPLACE FUNCTION dividend_run_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'dividend run % is % and cannot be deleted', OLD.id, OLD.status
                USING ERRCODE = 'P0001';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' THEN
        IF (NEW.kind, NEW.corrects_run_id, NEW.period_label, NEW.period_start, NEW.period_end,
            NEW.scope_kind, NEW.scope_codes, NEW.created_by, NEW.created_at, NEW.computed_at,
            NEW.approved_by, NEW.approved_at, NEW.note)
           IS DISTINCT FROM
           (OLD.kind, OLD.corrects_run_id, OLD.period_label, OLD.period_start, OLD.period_end,
            OLD.scope_kind, OLD.scope_codes, OLD.created_by, OLD.created_at, OLD.computed_at,
            OLD.approved_by, OLD.approved_at, OLD.note) THEN
            RAISE EXCEPTION 'dividend run % is % and frozen', OLD.id, OLD.status
                USING ERRCODE = 'P0001';
        END IF;
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
           (OLD.status = 'draft' AND NEW.status IN ('approved', 'discarded'))
        OR (OLD.status = 'approved' AND NEW.status = 'exported')
        OR (OLD.status = 'exported' AND NEW.status = 'exported')
        OR (OLD.status = 'exported' AND NEW.status = 'paid')) THEN
        RAISE EXCEPTION 'dividend run %: % -> % is not allowed', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END $$;

-- settled energy (grid statements covering a whole period) is a source of its own, and
-- every unit of a run says which energy source and which allocation basis it used
ALTER TABLE station_period_energy DROP CONSTRAINT station_period_energy_source_check;
ALTER TABLE station_period_energy ADD CONSTRAINT station_period_energy_source_check
    CHECK (source IN ('readings', 'fed', 'settled'));
ALTER TABLE dividend_run_units ADD COLUMN energy_source text NOT NULL DEFAULT 'readings';
ALTER TABLE dividend_run_units ADD COLUMN revenue_basis text NOT NULL DEFAULT 'accrued';
-- of a deduction's amount, what cash received for earlier generation periods added to
-- those periods' deductions (received basis)
ALTER TABLE dividend_run_deductions ADD COLUMN earlier_fen bigint NOT NULL DEFAULT 0;
