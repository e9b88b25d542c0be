-- Attempts for subjects without codes, so they are answered exactly as a
-- subject with codes is, lockout included: each such subject's attempts run
-- on its own copy of the tenant's decoy credential, which the component
-- counts failures and lockouts in as it does in a real one. The subject is
-- kept only as a SHA-256 of the tenant and the name (a name no one enrolled
-- may be anything a caller sent). Rows per tenant are bounded by
-- `limits.unenrolled_subjects_per_tenant`: a new row past the bound evicts
-- the rows with the fewest failures, oldest first, so naming a million
-- subjects never grows the store without bound.
CREATE TABLE IF NOT EXISTS unenrolled_attempts (
    tenant       TEXT   NOT NULL,
    subject_key  TEXT   NOT NULL,
    version      BIGINT NOT NULL,
    credential   BYTEA  NOT NULL,
    failures     BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant, subject_key)
);
CREATE INDEX IF NOT EXISTS unenrolled_attempts_eviction
    ON unenrolled_attempts (tenant, failures, updated_at);
