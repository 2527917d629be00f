DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I RESET jit', current_database());
END
$$;
