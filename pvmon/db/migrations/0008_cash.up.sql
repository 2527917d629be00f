-- County cash (issue 11): grid settlements, subsidy receipts, allocation basis, advances,
-- village distribution plans and their payout runs. Money is integer fen; prices numeric.

-- Grid settlement statements: settled on-grid energy [Wh] and the benchmark-part amount
-- per station and settlement period (month or quarter); periods of a station never overlap.
CREATE TABLE grid_settlements (
    station_id    bigint NOT NULL REFERENCES stations (id),
    period_start  date NOT NULL,
    period_end    date NOT NULL,                           -- exclusive
    energy_wh     bigint NOT NULL CHECK (energy_wh >= 0),
    yuan_per_kwh  numeric(10, 6) NOT NULL CHECK (yuan_per_kwh >= 0),
    amount_fen    bigint NOT NULL CHECK (amount_fen >= 0),
    source_file   text NOT NULL,
    source_row    integer NOT NULL,
    imported_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, period_start, period_end),
    CHECK (period_end > period_start),
    CONSTRAINT grid_settlements_no_overlap EXCLUDE USING gist (
        station_id WITH =, daterange(period_start, period_end, '[)') WITH &&
    )
);

-- Subsidy batches as received, and their allocation to stations and generation periods.
CREATE TABLE subsidy_receipts (
    id            bigserial PRIMARY KEY,
    county_id     bigint NOT NULL REFERENCES counties (id),
    reference     text NOT NULL UNIQUE,
    received_on   date NOT NULL,
    covers_start  date NOT NULL,
    covers_end    date NOT NULL,
    coverage      text NOT NULL CHECK (coverage IN ('full', 'partial')),
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    note          text NOT NULL DEFAULT '',
    CHECK (covers_end > covers_start)
);

CREATE TABLE subsidy_receipt_lines (
    receipt_id    bigint NOT NULL REFERENCES subsidy_receipts (id) ON DELETE CASCADE,
    station_id    bigint NOT NULL REFERENCES stations (id),
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    outstanding_fen bigint NOT NULL CHECK (outstanding_fen >= 0),  -- the allocation weight
    amount_fen    bigint NOT NULL CHECK (amount_fen >= 0 AND amount_fen <= outstanding_fen),
    PRIMARY KEY (receipt_id, station_id, period_start, period_end)
);
CREATE INDEX subsidy_receipt_lines_station_idx
    ON subsidy_receipt_lines (station_id, period_start);

-- Allocation basis per county (default 'accrued' when absent) or per scheme code (wins).
CREATE TABLE cash_allocation_basis (
    id           bigserial PRIMARY KEY,
    county_id    bigint UNIQUE REFERENCES counties (id),
    scheme_code  text UNIQUE,
    basis        text NOT NULL CHECK (basis IN ('accrued', 'received')),
    set_by       text NOT NULL,
    set_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((county_id IS NULL) <> (scheme_code IS NULL))
);

-- Advances (垫付): what a county paid out beyond the cash it held for a run's unit, and
-- their repayment from later subsidy receipts, oldest first.
CREATE TABLE cash_advances (
    id            bigserial PRIMARY KEY,
    county_id     bigint NOT NULL REFERENCES counties (id),
    village_id    bigint NOT NULL REFERENCES villages (id),
    station_id    bigint NOT NULL REFERENCES stations (id),
    run_id        bigint NOT NULL REFERENCES dividend_runs (id),
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    advanced_on   date NOT NULL,
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    UNIQUE (run_id, station_id, village_id)
);
CREATE INDEX cash_advances_county_idx ON cash_advances (county_id);
CREATE INDEX cash_advances_station_idx ON cash_advances (station_id, period_start, id);

CREATE TABLE cash_advance_repayments (
    advance_id    bigint NOT NULL REFERENCES cash_advances (id),
    receipt_id    bigint NOT NULL REFERENCES subsidy_receipts (id) ON DELETE CASCADE,
    repaid_on     date NOT NULL,
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    PRIMARY KEY (advance_id, receipt_id)
);

CREATE VIEW cash_advance_balances AS
SELECT a.id, a.county_id, a.village_id, a.station_id, a.run_id, a.period_start, a.period_end,
       a.advanced_on, a.amount_fen,
       coalesce(r.repaid_fen, 0)::bigint AS repaid_fen,
       (a.amount_fen - coalesce(r.repaid_fen, 0))::bigint AS outstanding_fen
  FROM cash_advances a
  LEFT JOIN (SELECT advance_id, sum(amount_fen) AS repaid_fen FROM cash_advance_repayments
              GROUP BY advance_id) r ON r.advance_id = a.id;

-- Village distribution plans (四议两公开): drafted by the village, reviewed by the
-- township, filed with the county; sent back with a reason. Every step is an event.
CREATE TABLE village_plans (
    id            bigserial PRIMARY KEY,
    village_id    bigint NOT NULL REFERENCES villages (id),
    year          integer NOT NULL CHECK (year BETWEEN 1990 AND 2100),
    status        text NOT NULL DEFAULT 'drafted'
                  CHECK (status IN ('drafted', 'reviewed', 'filed', 'sent_back')),
    available_fen bigint NOT NULL,               -- the collective's available revenue, drafted
    drafted_by    text NOT NULL,
    drafted_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX village_plans_village_idx ON village_plans (village_id, year);

CREATE TABLE village_plan_lines (
    plan_id       bigint NOT NULL REFERENCES village_plans (id) ON DELETE CASCADE,
    line_no       integer NOT NULL CHECK (line_no > 0),
    category      text NOT NULL CHECK (category IN ('welfare_job_wages', 'public_works',
                                                    'rewards_hardship')),
    household_id  bigint REFERENCES households (id),
    payee_name    text NOT NULL,
    description   text NOT NULL DEFAULT '',
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    PRIMARY KEY (plan_id, line_no)
);

CREATE TABLE village_plan_events (
    id            bigserial PRIMARY KEY,
    plan_id       bigint NOT NULL REFERENCES village_plans (id) ON DELETE CASCADE,
    step          text NOT NULL CHECK (step IN ('drafted', 'reviewed', 'filed', 'sent_back')),
    actor         text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    reason        text NOT NULL DEFAULT '',
    CHECK (step <> 'sent_back' OR reason <> '')
);

-- Payout runs of plans: the same four eyes and freeze as dividend runs.
CREATE TABLE plan_payout_runs (
    id            bigserial PRIMARY KEY,
    plan_id       bigint NOT NULL REFERENCES village_plans (id),
    status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved',
                                                                  'exported', 'paid')),
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    approved_by   text,
    approved_at   timestamptz,
    exported_at   timestamptz,
    paid_at       timestamptz,
    CHECK (approved_by IS NULL OR approved_by <> created_by),
    CHECK ((status = 'draft') = (approved_by IS NULL))
);

CREATE TABLE plan_payout_lines (
    run_id        bigint NOT NULL REFERENCES plan_payout_runs (id) ON DELETE CASCADE,
    plan_id       bigint NOT NULL,
    line_no       integer NOT NULL,
    category      text NOT NULL,
    household_id  bigint REFERENCES households (id),
    payee_name    text NOT NULL,
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    PRIMARY KEY (run_id, line_no),
    FOREIGN KEY (plan_id, line_no) REFERENCES village_plan_lines (plan_id, line_no)
);
-- a plan line is paid by one run only
CREATE UNIQUE INDEX plan_payout_lines_once ON plan_payout_lines (plan_id, line_no);
