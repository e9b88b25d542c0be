-- The step-up OpenID provider's RS256 signing keys, per tenant. `slot` numbers
-- a tenant's keys in the order they sign; the primary key makes generating a
-- key insert-if-absent, so instances racing to create the same slot keep one.
-- `sealed` is the PKCS#8 private key under AES-256-GCM (12-byte nonce first;
-- the tenant, slot and kid are its associated data); `cert` the self-signed
-- certificate (DER) published as the JWKS `x5c`.
CREATE TABLE IF NOT EXISTS op_keys (
    tenant        TEXT   NOT NULL,
    slot          BIGINT NOT NULL,
    kid           TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    activates_at  BIGINT NOT NULL,
    sealed        BYTEA  NOT NULL,
    cert          BYTEA  NOT NULL,
    PRIMARY KEY (tenant, slot)
);
