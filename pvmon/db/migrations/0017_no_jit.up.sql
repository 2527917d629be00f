-- No JIT compilation in this database. JIT pays for a query that runs for minutes; the
-- API's and the dashboards' queries run in milliseconds. The energy views split a gap's
-- rise with SQL functions whose cost the planner cannot know, so on a few thousand
-- readings their estimates pass jit_above_cost, and each panel spent 1.3 s compiling a
-- query that then ran in 3 ms. Set on the database, so every role (the application, the
-- Grafana reader) gets it on every server (embedded or TimescaleDB's image).
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
END
$$;
