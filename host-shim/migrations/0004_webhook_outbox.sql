-- The webhook outbox: one row per (event, endpoint), written in the same
-- transaction as the credential change and its audit rows, so an event is
-- sent if and only if its change was stored. A delivery worker leases rows
-- (lease_until_ms + lease_token; completion is fenced by the token), sends
-- only the oldest pending row of each (endpoint, tenant, subject) queue, so a
-- subject's events arrive in order, and keeps the event id (the
-- `webhook-id`) across retries. Rows hold what the body is rendered from:
-- kinds, numbers and set ids, never a code, a digest or a token.
CREATE TABLE IF NOT EXISTS webhook_outbox (
    event_id         TEXT   NOT NULL,
    endpoint         TEXT   NOT NULL,
    tenant           TEXT   NOT NULL,
    subject          TEXT   NOT NULL,
    seq              BIGINT NOT NULL,
    kind             TEXT   NOT NULL,
    at               BIGINT NOT NULL,
    detail           TEXT   NOT NULL,
    request_id       TEXT,
    state            TEXT   NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts         BIGINT NOT NULL,
    created_ms       BIGINT NOT NULL,
    window_ms        BIGINT NOT NULL,
    next_attempt_ms  BIGINT NOT NULL,
    lease_until_ms   BIGINT,
    lease_token      TEXT,
    last_attempt_ms  BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    delivered_ms     BIGINT,
    PRIMARY KEY (event_id, endpoint)
);
CREATE INDEX IF NOT EXISTS webhook_outbox_due
    ON webhook_outbox (next_attempt_ms) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_outbox_head
    ON webhook_outbox (endpoint, tenant, subject, seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_outbox_age
    ON webhook_outbox (state, created_ms);

-- The last sequence number handed out per subject. The swap transaction takes
-- a range with an upsert after its compare-and-swap, which already orders one
-- subject's writers, so numbers follow commit order and never restart.
CREATE TABLE IF NOT EXISTS webhook_sequences (
    tenant    TEXT   NOT NULL,
    subject   TEXT   NOT NULL,
    last_seq  BIGINT NOT NULL,
    PRIMARY KEY (tenant, subject)
);
