-- livecert schema, version 1 (SQLite).
--
-- Times are Unix seconds (INTEGER). Booleans are INTEGER 0/1. Secrets are sealed with the master
-- key before they reach these tables (BLOB: nonce ‖ ciphertext ‖ tag); nothing here is plaintext
-- key material.

-- Applied migrations; PRAGMA user_version holds the highest version as well.
CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    name    TEXT    NOT NULL,
    applied INTEGER NOT NULL
);

-- Tenants (spec/access.md): a random 16-digit id.
CREATE TABLE accounts (
    id      INTEGER PRIMARY KEY CHECK (id BETWEEN 1000000000000000 AND 9999999999999999),
    status  TEXT    NOT NULL CHECK (status IN ('active', 'suspended')),
    created INTEGER NOT NULL
);

-- AccessKeys: the secret is sealed (AAD livecert/v1/access-key-secret).
CREATE TABLE access_keys (
    id            TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    secret_sealed BLOB    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('active', 'inactive')),
    created       INTEGER NOT NULL
);
CREATE INDEX access_keys_by_account ON access_keys (account_id);

-- Named sequences. 'cert_id' is the one global CertId sequence; its first value is a random
-- 7-digit number written when this migration is applied.
CREATE TABLE sequences (
    name TEXT    PRIMARY KEY,
    next INTEGER NOT NULL
);

-- The certificate library: one row per record, every CertFacts field in its own column.
CREATE TABLE certificates (
    cert_id            INTEGER PRIMARY KEY,
    account_id         INTEGER NOT NULL REFERENCES accounts (id),
    cert_name          TEXT    NOT NULL,
    cert_type          TEXT    NOT NULL CHECK (cert_type IN ('upload', 'free')),
    status             TEXT    NOT NULL CHECK (status IN ('success', 'applying', 'failed', 'revoked')),
    chain_pem          TEXT    NOT NULL,
    private_key_sealed BLOB    NOT NULL,
    fingerprint_sha256 TEXT    NOT NULL,
    spki_sha256        TEXT    NOT NULL,
    subject_cn         TEXT,
    dns_sans           TEXT    NOT NULL CHECK (json_valid(dns_sans) AND json_type(dns_sans) = 'array'),
    issuer_cn          TEXT,
    issuer_org         TEXT,
    serial_hex         TEXT    NOT NULL,
    not_before         INTEGER NOT NULL,
    not_after          INTEGER NOT NULL,
    key_algorithm      TEXT    NOT NULL,
    key_bits           INTEGER NOT NULL,
    created            INTEGER NOT NULL,
    last_changed       INTEGER NOT NULL,
    UNIQUE (account_id, cert_name),
    -- Target of the domains' composite foreign key: a domain binds only its own account's records.
    UNIQUE (cert_id, account_id)
);
CREATE INDEX certificates_by_fingerprint ON certificates (account_id, fingerprint_sha256);

-- Streaming domains. The name is unique across accounts and stored lower case. HTTPS on exactly
-- when a record is bound.
CREATE TABLE domains (
    name              TEXT    PRIMARY KEY CHECK (name = lower(name)),
    account_id        INTEGER NOT NULL REFERENCES accounts (id),
    status            TEXT    NOT NULL CHECK (status IN ('online', 'offline', 'configuring')),
    live_domain_type  TEXT    NOT NULL,
    region            TEXT    NOT NULL,
    scope             TEXT    NOT NULL,
    check_url         TEXT,
    top_level_domain  TEXT,
    resource_group_id TEXT,
    description       TEXT    NOT NULL DEFAULT '',
    https             INTEGER NOT NULL DEFAULT 0 CHECK (https IN (0, 1)),
    cert_id           INTEGER,
    locked            INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
    safe_mode         INTEGER NOT NULL DEFAULT 0 CHECK (safe_mode IN (0, 1)),
    protected_mode    INTEGER NOT NULL DEFAULT 0 CHECK (protected_mode IN (0, 1)),
    https_required    INTEGER NOT NULL DEFAULT 0 CHECK (https_required IN (0, 1)),
    functions         TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(functions) AND json_type(functions) = 'array'),
    created           INTEGER NOT NULL,
    modified          INTEGER NOT NULL,
    CHECK ((https = 1) = (cert_id IS NOT NULL)),
    FOREIGN KEY (cert_id, account_id) REFERENCES certificates (cert_id, account_id)
);
CREATE INDEX domains_by_account ON domains (account_id, created);
CREATE INDEX domains_by_cert ON domains (cert_id);

-- The change counter the edge polls: bumped (by the triggers below, so that no write path can
-- forget it) whenever a domain appears, disappears, or changes its certificate, HTTPS switch or
-- status, and whenever the content or status of a bound record changes. Only ever increases.
CREATE TABLE changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    counter INTEGER NOT NULL
);
INSERT INTO changes (id, counter) VALUES (1, 0);

CREATE TRIGGER domains_inserted AFTER INSERT ON domains
BEGIN
    UPDATE changes SET counter = counter + 1 WHERE id = 1;
END;

CREATE TRIGGER domains_deleted AFTER DELETE ON domains
BEGIN
    UPDATE changes SET counter = counter + 1 WHERE id = 1;
END;

CREATE TRIGGER domains_changed AFTER UPDATE OF cert_id, https, status ON domains
WHEN OLD.cert_id IS NOT NEW.cert_id OR OLD.https IS NOT NEW.https OR OLD.status IS NOT NEW.status
BEGIN
    UPDATE changes SET counter = counter + 1 WHERE id = 1;
END;

CREATE TRIGGER bound_certificate_changed AFTER UPDATE OF chain_pem, private_key_sealed, status ON certificates
WHEN (OLD.chain_pem IS NOT NEW.chain_pem
       OR OLD.private_key_sealed IS NOT NEW.private_key_sealed
       OR OLD.status IS NOT NEW.status)
     AND EXISTS (SELECT 1 FROM domains WHERE domains.cert_id = NEW.cert_id)
BEGIN
    UPDATE changes SET counter = counter + 1 WHERE id = 1;
END;
