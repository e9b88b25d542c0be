-- One schema for SQLite and PostgreSQL: BYTEA keeps blobs as blobs in SQLite too.

-- One credential value per (tenant, subject); every change bumps `version`
-- through a compare-and-swap update.
CREATE TABLE IF NOT EXISTS credentials (
    tenant      TEXT   NOT NULL,
    subject     TEXT   NOT NULL,
    version     BIGINT NOT NULL,
    credential  BYTEA  NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, subject)
);

-- Audit trail of plugin events and refusals (never a code or digest).
-- `version` is the credential version the event's change created (NULL for
-- events that changed no credential), which orders events of one subject.
CREATE TABLE IF NOT EXISTS audit_events (
    at       BIGINT NOT NULL,
    version  BIGINT,
    tenant   TEXT   NOT NULL,
    subject  TEXT   NOT NULL,
    kind     TEXT   NOT NULL,
    detail   TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_subject ON audit_events (tenant, subject, at);

-- Single-use token ids (JWT `jti`, step `state`) until they expire.
CREATE TABLE IF NOT EXISTS used_tokens (
    id          TEXT   NOT NULL PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS used_tokens_expiry ON used_tokens (expires_at);
