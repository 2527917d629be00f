-- Placeholder for the notify branch's migration 0018 (versions must run 1..N without
-- holes). Delete this pair when that branch's 0018 lands first.
SELECT 1;
