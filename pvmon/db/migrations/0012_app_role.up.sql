-- The role the application connects as: it reads and writes rows, and owns nothing, so it
-- cannot alter or drop tables, disable triggers or set session_replication_role (the
-- freeze and append-only triggers hold against it). Migrations run as the owner. Roles
-- are cluster-wide: created once, granted in each database. LOGIN and the password are
-- set by whoever runs the application (the embedded server does it itself).
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pvmon_app') THEN
        CREATE ROLE pvmon_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END $$;
GRANT USAGE ON SCHEMA public TO pvmon_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO pvmon_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO pvmon_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO pvmon_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO pvmon_app;
-- append-only for the application too: history and the double-payment guard
REVOKE UPDATE, DELETE ON dividend_run_events, dividend_payout_claims FROM pvmon_app;
-- the schema's own bookkeeping is the owner's
REVOKE INSERT, UPDATE, DELETE ON pvmon_meta, schema_migrations FROM pvmon_app;
