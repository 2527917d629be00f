-- API keys: only the SHA-256 hash of each key is stored; the plain key is shown once.
CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    role        text NOT NULL CHECK (role IN ('viewer', 'operator', 'finance', 'admin')),
    county_id   bigint REFERENCES counties (id),        -- NULL: every county
    key_prefix  text NOT NULL,                          -- first characters, for display
    key_hash    text NOT NULL UNIQUE,                   -- sha256 hex of the plain key
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
