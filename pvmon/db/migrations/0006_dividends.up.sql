-- Dividend engine: schemes, slots, enrolments, prices, deductions, energy basis, revenue
-- lines, payout runs and their ledger. Money is integer fen; prices are numeric yuan/kWh.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Schemes as data, versioned with effective dates. One scheme has one or more components,
-- each paying one payee role (the enrolled household, or its village collective).
CREATE TABLE dividend_schemes (
    id                   bigserial PRIMARY KEY,
    code                 text NOT NULL,
    version              integer NOT NULL CHECK (version > 0),
    effective_from       date NOT NULL,
    effective_to         date,                                  -- exclusive
    years                integer NOT NULL CHECK (years BETWEEN 1 AND 50),
    transfer_after_years integer CHECK (transfer_after_years IS NULL OR transfer_after_years >= years),
    policy               text NOT NULL CHECK (policy IN ('guaranteed', 'pro_rata',
                                                             'pro_rata_carry_forward')),
    description          text NOT NULL DEFAULT '',
    UNIQUE (code, version),
    CHECK (effective_to IS NULL OR effective_to > effective_from)
);

CREATE TABLE dividend_scheme_components (
    scheme_id   bigint NOT NULL REFERENCES dividend_schemes (id) ON DELETE CASCADE,
    component   text NOT NULL,                          -- e.g. 'household', 'collective'
    payee_role  text NOT NULL CHECK (payee_role IN ('enrollee', 'village_collective')),
    basis       text NOT NULL CHECK (basis IN ('fixed', 'per_person', 'share')),
    yearly_fen  bigint NOT NULL DEFAULT 0 CHECK (yearly_fen >= 0),   -- fixed / per person [fen/year]
    share       numeric(9, 6) CHECK (share IS NULL OR (share > 0 AND share <= 1)),  -- of unit's net revenue
    PRIMARY KEY (scheme_id, component),
    CHECK ((basis = 'share') = (share IS NOT NULL))
);

-- A slot of a station: a household station has one; a village station one per served
-- household; a joint station's slots each belong to one of its villages.
CREATE TABLE station_slots (
    id                bigserial PRIMARY KEY,
    station_id        bigint NOT NULL REFERENCES stations (id),
    slot_no           integer NOT NULL CHECK (slot_no > 0),
    village_id        bigint NOT NULL REFERENCES villages (id),  -- the allocation unit
    first_dividend_on date NOT NULL,                             -- scheme years count from here
    UNIQUE (station_id, slot_no)
);
CREATE INDEX station_slots_village_idx ON station_slots (village_id);

-- Enrolment: a household (or a collective) holding a slot under a scheme.
CREATE TABLE dividend_enrolments (
    id           bigserial PRIMARY KEY,
    slot_id      bigint NOT NULL REFERENCES station_slots (id),
    scheme_id    bigint NOT NULL REFERENCES dividend_schemes (id),
    household_id bigint REFERENCES households (id),
    village_id   bigint REFERENCES villages (id),               -- a collective as the enrollee
    starts_on    date NOT NULL,
    ends_on      date,                                          -- exclusive
    end_reason   text CHECK (end_reason IN ('left_poverty', 'moved', 'deceased', 'reassigned',
                                            'scheme_ended', 'transferred')),
    CHECK ((household_id IS NULL) <> (village_id IS NULL)),
    CHECK (ends_on IS NULL OR ends_on > starts_on),
    CHECK ((ends_on IS NULL) = (end_reason IS NULL)),
    -- a slot has one holder at a time, so in particular a household cannot hold the same
    -- slot twice over overlapping dates (one GiST constraint: two cost twice the insert time)
    CONSTRAINT enrolments_no_overlap EXCLUDE USING gist (
        slot_id WITH =, daterange(starts_on, ends_on, '[)') WITH &&
    )
);
CREATE INDEX dividend_enrolments_household_idx ON dividend_enrolments (household_id);

-- After transfer_after_years the station and its income pass to the household.
CREATE TABLE station_transfers (
    station_id     bigint PRIMARY KEY REFERENCES stations (id),
    household_id   bigint NOT NULL REFERENCES households (id),
    transferred_on date NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);

-- Price schedules [yuan/kWh]: the province's coal benchmark and each station tariff.
CREATE TABLE benchmark_prices (
    province          text NOT NULL,
    effective_from    date NOT NULL,
    yuan_per_kwh      numeric(10, 6) NOT NULL CHECK (yuan_per_kwh >= 0),
    PRIMARY KEY (province, effective_from)
);
CREATE TABLE station_tariffs (
    tariff_ref        text NOT NULL,
    effective_from    date NOT NULL,
    yuan_per_kwh      numeric(10, 6) NOT NULL CHECK (yuan_per_kwh >= 0),
    PRIMARY KEY (tariff_ref, effective_from)
);

-- Deductions before dividends, per county or per station (station rules replace the
-- county's rules of the same kind), applied in seq order.
CREATE TABLE deduction_rules (
    id             bigserial PRIMARY KEY,
    county_id      bigint REFERENCES counties (id),
    station_id     bigint REFERENCES stations (id),
    seq            integer NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('land_rent', 'om_fee', 'reserve', 'insurance',
                                                 'tax', 'other')),
    method         text NOT NULL CHECK (method IN ('fixed', 'share')),
    yearly_fen     bigint CHECK (yearly_fen IS NULL OR yearly_fen >= 0),   -- fixed [fen/year]
    rate           numeric(9, 6) CHECK (rate IS NULL OR (rate >= 0 AND rate <= 1)),  -- of gross
    effective_from date NOT NULL DEFAULT '2000-01-01',
    effective_to   date,
    CHECK ((county_id IS NULL) <> (station_id IS NULL)),
    CHECK ((method = 'fixed') = (yearly_fen IS NOT NULL)),
    CHECK ((method = 'share') = (rate IS NOT NULL))
);

-- Expected yield per station (for filling missing days and for schedules).
CREATE TABLE station_expected_yield (
    station_id          bigint PRIMARY KEY REFERENCES stations (id) ON DELETE CASCADE,
    kwh_per_kwp_year    numeric(10, 3) NOT NULL CHECK (kwh_per_kwp_year > 0),
    degradation_per_year numeric(7, 5) NOT NULL DEFAULT 0.005,
    source              text NOT NULL DEFAULT 'pvlib'
);

-- Energy basis per station and period [Wh]. Computed from station_energy_daily
-- (source 'readings') or fed directly (source 'fed': benchmarks, imports, settlements).
CREATE TABLE station_period_energy (
    station_id     bigint NOT NULL REFERENCES stations (id),
    period_start   date NOT NULL,
    period_end     date NOT NULL,                             -- exclusive
    metered_wh     bigint NOT NULL CHECK (metered_wh >= 0),
    estimated_wh   bigint NOT NULL DEFAULT 0 CHECK (estimated_wh >= 0),
    metered_days   integer NOT NULL DEFAULT 0,
    estimated_days integer NOT NULL DEFAULT 0,
    source         text NOT NULL CHECK (source IN ('readings', 'fed')),
    computed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, period_start, period_end)
);

-- Revenue as data: lines per station, period, part and source. The engine writes
-- 'metered' and 'estimated'; grid settlements and subsidy receipts add other sources.
CREATE TABLE revenue_lines (
    station_id    bigint NOT NULL REFERENCES stations (id),
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    part          text NOT NULL CHECK (part IN ('benchmark', 'subsidy')),
    source        text NOT NULL CHECK (source IN ('metered', 'estimated', 'settled', 'received')),
    energy_wh     bigint NOT NULL,
    yuan_per_kwh  numeric(10, 6) NOT NULL,
    amount_fen    bigint NOT NULL,
    estimated     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (station_id, period_start, period_end, part, source)
);

-- Payout runs and their ledger.
CREATE TABLE dividend_runs (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL DEFAULT 'regular' CHECK (kind IN ('regular', 'adjustment')),
    corrects_run_id bigint REFERENCES dividend_runs (id),
    period_label    text NOT NULL,
    period_start    date NOT NULL,
    period_end      date NOT NULL,
    scope_kind      text NOT NULL CHECK (scope_kind IN ('all', 'county', 'township', 'village',
                                                        'stations')),
    scope_codes     text[] NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved',
                                                                    'exported', 'paid')),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    computed_at     timestamptz,
    approved_by     text,
    approved_at     timestamptz,
    exported_at     timestamptz,
    paid_at         timestamptz,
    note            text NOT NULL DEFAULT '',
    CHECK (approved_by IS NULL OR approved_by <> created_by),
    CHECK ((status = 'draft') = (approved_by IS NULL)),
    CHECK ((kind = 'adjustment') = (corrects_run_id IS NOT NULL)),
    CHECK (period_end > period_start)
);

-- One row per allocation unit (station × village; one unit for non-joint stations).
-- The ledger tables reference their run (and lines their enrolment); station, village and
-- scheme ids are copied from the registry by the engine and not re-checked row by row
-- (five foreign-key probes per line made a province-sized COPY twice as slow).
CREATE TABLE dividend_run_units (
    run_id            bigint NOT NULL REFERENCES dividend_runs (id) ON DELETE CASCADE,
    station_id        bigint NOT NULL,
    village_id        bigint NOT NULL,
    share_weight      numeric(14, 6) NOT NULL,
    energy_wh         bigint NOT NULL,
    estimated_wh      bigint NOT NULL,
    estimated_days    integer NOT NULL,
    revenue_benchmark_fen bigint NOT NULL,
    revenue_subsidy_fen   bigint NOT NULL,
    deductions_fen    bigint NOT NULL,
    available_fen     bigint NOT NULL,
    obligations_fen   bigint NOT NULL,
    paid_fen          bigint NOT NULL,
    arrears_paid_fen  bigint NOT NULL,
    shortfall_fen     bigint NOT NULL,       -- guarantor shortfall
    residual_fen      bigint NOT NULL,
    residual_owner    text NOT NULL CHECK (residual_owner IN ('village_collective',
                                                              'project_owner')),
    factor            numeric(12, 9) NOT NULL,
    PRIMARY KEY (run_id, station_id, village_id)
);

CREATE TABLE dividend_run_deductions (
    run_id       bigint NOT NULL REFERENCES dividend_runs (id) ON DELETE CASCADE,
    station_id   bigint NOT NULL,
    seq          integer NOT NULL,
    kind         text NOT NULL,
    method       text NOT NULL,
    basis        text NOT NULL,           -- e.g. '2.9% of 123456 fen' or '1000 fen/year x 181/365'
    due_fen      bigint NOT NULL,
    amount_fen   bigint NOT NULL,         -- what the revenue covered (<= due_fen)
    PRIMARY KEY (run_id, station_id, seq, kind)
);

CREATE TABLE dividend_lines (
    id               bigserial PRIMARY KEY,
    run_id           bigint NOT NULL REFERENCES dividend_runs (id) ON DELETE CASCADE,
    line_kind        text NOT NULL DEFAULT 'dividend' CHECK (line_kind IN ('dividend',
                                                                          'reversal', 'correction')),
    reverses_line_id bigint REFERENCES dividend_lines (id),
    station_id       bigint NOT NULL,
    unit_village_id  bigint NOT NULL,
    enrolment_id     bigint NOT NULL REFERENCES dividend_enrolments (id),
    scheme_id        bigint NOT NULL,
    component        text NOT NULL,
    payee_kind       text NOT NULL CHECK (payee_kind IN ('household', 'collective')),
    payee_id         bigint NOT NULL,     -- households.id or villages.id
    period_start     date NOT NULL,
    period_end       date NOT NULL,
    days_enrolled    integer NOT NULL,
    obligation_fen   bigint NOT NULL,
    factor           numeric(12, 9) NOT NULL,
    paid_fen         bigint NOT NULL,     -- for this period's obligation
    arrears_added_fen bigint NOT NULL DEFAULT 0,
    arrears_paid_fen bigint NOT NULL DEFAULT 0,
    amount_fen       bigint NOT NULL,     -- paid_fen + arrears_paid_fen: what the bank pays
    policy           text NOT NULL,
    energy_wh        bigint NOT NULL,     -- basis: the unit's energy
    estimated_days   integer NOT NULL,    -- basis: estimated days in the unit's energy
    revenue_benchmark_fen bigint NOT NULL,
    revenue_subsidy_fen   bigint NOT NULL,
    deductions_fen   bigint NOT NULL,
    CHECK (line_kind <> 'dividend' OR (amount_fen >= 0 AND paid_fen >= 0
                                       AND paid_fen <= obligation_fen))
);
CREATE INDEX dividend_lines_run_idx ON dividend_lines (run_id);
CREATE INDEX dividend_lines_payee_idx ON dividend_lines (payee_kind, payee_id);
CREATE INDEX dividend_lines_enrolment_idx ON dividend_lines (enrolment_id, component);
CREATE INDEX dividend_lines_arrears_idx ON dividend_lines (enrolment_id, component)
    WHERE arrears_added_fen <> 0 OR arrears_paid_fen <> 0;
CREATE INDEX dividend_lines_reverses_idx ON dividend_lines (reverses_line_id)
    WHERE reverses_line_id IS NOT NULL;

-- The same period and payee cannot be paid twice: approving a regular run claims each of
-- its lines' (enrolment, component, days); the enrolment and component name the payee
-- (its household, or its village collective), and overlapping claims are refused.
CREATE TABLE dividend_payout_claims (
    line_id      bigint PRIMARY KEY REFERENCES dividend_lines (id),
    run_id       bigint NOT NULL REFERENCES dividend_runs (id),
    payee_kind   text NOT NULL,
    payee_id     bigint NOT NULL,
    enrolment_id bigint NOT NULL,
    component    text NOT NULL,
    during       daterange NOT NULL,
    CONSTRAINT payout_claims_once EXCLUDE USING gist (
        enrolment_id WITH =, component WITH =, during WITH &&
    )
);

-- Approved runs are frozen: no line of a non-draft run may be inserted, changed or deleted.
-- Statement-level triggers over the transition tables: one check per statement, so a
-- million-line COPY into a draft pays one lookup, not a million.
CREATE FUNCTION dividend_frozen_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['dividend_lines', 'dividend_run_units', 'dividend_run_deductions']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION dividend_frozen_guard()',
                       t || '_frozen_ins', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION dividend_frozen_guard()',
                       t || '_frozen_upd', t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION dividend_frozen_guard()',
                       t || '_frozen_del', t);
    END LOOP;
END $$;

-- Runs move draft -> approved -> exported -> paid; once approved, only the status and its
-- timestamps may change, and the run cannot be deleted.
CREATE FUNCTION dividend_run_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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
           (OLD.status = 'draft' AND NEW.status = 'approved')
        OR (OLD.status = 'approved' AND NEW.status = 'exported')
        OR (OLD.status = 'exported' AND NEW.status = 'exported')
        OR (OLD.status = 'exported' AND NEW.status = 'paid')) THEN
        RAISE EXCEPTION 'dividend run %: % -> % is not allowed', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER dividend_runs_guard BEFORE UPDATE OR DELETE ON dividend_runs
    FOR EACH ROW EXECUTE FUNCTION dividend_run_guard();
