-- What the collector learned about an endpoint from its replies (a logger that answers
-- with transaction id 0, one that needs a gap between requests), kept across restarts.
-- A setting given in the fleet file (endpoint_options) always wins over what is here.
CREATE TABLE endpoint_learned (
    host       text NOT NULL,
    port       integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    setting    text NOT NULL CHECK (setting IN ('accept_tid_zero', 'min_gap_s')),
    value      jsonb NOT NULL,
    why        text NOT NULL,
    learned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, port, setting)
);
