-- The credential as it was just before its active set was replaced (one row
-- per subject, the latest replacement), so a code of the replaced set can be
-- told apart from a wrong code and the user told why it no longer works. It
-- is never used to accept a code; rows older than the service's retention are
-- ignored and overwritten, and deleting a subject's codes deletes it too.
CREATE TABLE IF NOT EXISTS replaced_credentials (
    tenant       TEXT   NOT NULL,
    subject      TEXT   NOT NULL,
    credential   BYTEA  NOT NULL,
    replaced_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, subject)
);
