-- Plain PostgreSQL: the daily rollup is a table that pvmon_refresh_rollups rewrites. A row
-- it writes or deletes for a day before a kept guard's, or a row for the guard's day with
-- another first reading, is late data (or readings deleted): what is kept of that
-- inverter's energy (0024) is forgotten. Rewriting the guard's day with the same first
-- reading (today's readings arriving) is not. The guard's own row deleted for good (every
-- reading of that day deleted by hand, none of an earlier day) is not seen: the kept days
-- then stand on a row that is gone.
CREATE FUNCTION pvmon_energy_rollup_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    -- after a keep under way (its state is what the rows are checked against)
    PERFORM pg_advisory_xact_lock(7070708);
    IF TG_OP = 'INSERT' THEN
        PERFORM pvmon_forget_energy(ARRAY(
            SELECT DISTINCT n.inverter_id
              FROM new_rows n JOIN energy_days_state st ON st.inverter_id = n.inverter_id
             WHERE n.bucket < st.guard_bucket
                OR (n.bucket = st.guard_bucket
                    AND (n.first_time, n.first_wh, n.first_power_w) IS DISTINCT FROM
                        (st.guard_first_time, st.guard_first_wh, st.guard_first_power_w))));
    ELSE
        PERFORM pvmon_forget_energy(ARRAY(
            SELECT DISTINCT o.inverter_id
              FROM old_rows o JOIN energy_days_state st ON st.inverter_id = o.inverter_id
             WHERE o.bucket < st.guard_bucket));
    END IF;
    RETURN NULL;
END $fn$;
CREATE TRIGGER readings_daily_energy_written AFTER INSERT ON readings_daily
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pvmon_energy_rollup_changed();
CREATE TRIGGER readings_daily_energy_deleted AFTER DELETE ON readings_daily
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pvmon_energy_rollup_changed();
