-- When each API key was last accepted. Written by authentication at most once a minute
-- per key (pvmon.api.auth.LAST_USED_RESOLUTION), so the column is accurate to a minute.
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
