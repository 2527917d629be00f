-- Alarm notifications: every message the notifier composed (one per channel, covering one
-- or more alarms: a group), its delivery attempts, and which alarm it told of on which
-- channel for which event. The primary key of notification_alarms is the deduplication:
-- one message per alarm per channel per event, however often the notifier looks.
CREATE TABLE notifications (
    id              bigserial PRIMARY KEY,
    channel         text NOT NULL,
    rule            text NOT NULL,
    event           text NOT NULL CHECK (event IN ('opened', 'escalated', 'resolved', 'digest')),
    title           text NOT NULL,
    body            text NOT NULL,
    created_at      timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,          -- later than created_at in quiet hours
    digest_day      date,                          -- the local day of a digest
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text,                          -- never holds a secret of the channel
    sent_at         timestamptz,
    failed_at       timestamptz,                   -- gave up after the last attempt
    CHECK (event <> 'digest' OR digest_day IS NOT NULL)
);
CREATE INDEX notifications_pending_idx ON notifications (due_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE UNIQUE INDEX notifications_one_digest ON notifications (channel, digest_day)
    WHERE event = 'digest';

CREATE TABLE notification_alarms (
    alarm_id        bigint NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
    channel         text NOT NULL,
    event           text NOT NULL CHECK (event IN ('opened', 'escalated', 'resolved')),
    notification_id bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    PRIMARY KEY (alarm_id, channel, event)
);
CREATE INDEX notification_alarms_notification_idx ON notification_alarms (notification_id);
