ALTER TABLE api_keys DROP COLUMN IF EXISTS last_used_at;
