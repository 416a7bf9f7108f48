-- livecert schema, version 1 (PostgreSQL): the same tables, constraints and change-counter
-- semantics as SQLite's migrations 1–5 (src/sqlite/migrations/), written for PostgreSQL.
--
-- Times are Unix seconds (BIGINT). Ids are BIGINT. Secrets are sealed with the master key before
-- they reach these tables (BYTEA: nonce ‖ ciphertext ‖ tag); nothing here is plaintext key
-- material. Names that are compared or sorted are COLLATE "C": byte order, as SQLite's BINARY, and
-- lower() folds ASCII only, as SQLite's lower() and NOCASE do.
--
-- `schema_migrations` is created by the migration runner (src/postgres/schema.rs) before it
-- reads the version.

-- Tenants (spec/access.md): a random 16-digit id.
CREATE TABLE accounts (
    id      BIGINT PRIMARY KEY CHECK (id BETWEEN 1000000000000000 AND 9999999999999999),
    status  TEXT   NOT NULL CHECK (status IN ('active', 'suspended')),
    created BIGINT NOT NULL
);

-- Named counters. 'cert_id' is the one global CertId sequence: a row, not a PostgreSQL SEQUENCE,
-- so that a rolled-back call (a dry run, a refusal) does not consume an id. Its first value is a
-- random 7-digit number written when this migration is applied.
CREATE TABLE sequences (
    name TEXT   COLLATE "C" PRIMARY KEY,
    next BIGINT NOT NULL
);

-- The certificate library: one row per record, every CertFacts field in its own column.
CREATE TABLE certificates (
    cert_id            BIGINT  PRIMARY KEY,
    account_id         BIGINT  NOT NULL REFERENCES accounts (id),
    cert_name          TEXT    COLLATE "C" NOT NULL,
    cert_type          TEXT    NOT NULL CHECK (cert_type IN ('upload', 'free')),
    status             TEXT    NOT NULL CHECK (status IN ('success', 'applying', 'failed', 'revoked')),
    chain_pem          TEXT    NOT NULL,
    private_key_sealed BYTEA   NOT NULL,
    fingerprint_sha256 TEXT    COLLATE "C" NOT NULL,
    spki_sha256        TEXT    NOT NULL,
    subject_cn         TEXT,
    dns_sans           TEXT[]  NOT NULL CHECK (array_position(dns_sans, NULL) IS NULL),
    issuer_cn          TEXT,
    issuer_org         TEXT,
    serial_hex         TEXT    NOT NULL,
    not_before         BIGINT  NOT NULL,
    not_after          BIGINT  NOT NULL,
    key_algorithm      TEXT    NOT NULL,
    key_bits           BIGINT  NOT NULL,
    created            BIGINT  NOT NULL,
    last_changed       BIGINT  NOT NULL,
    UNIQUE (account_id, cert_name),
    -- Target of the domains' composite foreign key: a domain binds only its own account's records.
    UNIQUE (cert_id, account_id)
);
CREATE INDEX certificates_by_fingerprint ON certificates (account_id, fingerprint_sha256);

-- Streaming domains. The name is unique across accounts and stored lower case. HTTPS on exactly
-- when a record is bound, and only a record of the same account.
CREATE TABLE domains (
    name              TEXT    COLLATE "C" PRIMARY KEY CHECK (name = lower(name)),
    account_id        BIGINT  NOT NULL REFERENCES accounts (id),
    status            TEXT    NOT NULL CHECK (status IN ('online', 'offline', 'configuring')),
    live_domain_type  TEXT    NOT NULL,
    region            TEXT    NOT NULL,
    scope             TEXT    NOT NULL,
    check_url         TEXT,
    top_level_domain  TEXT,
    resource_group_id TEXT,
    description       TEXT    NOT NULL DEFAULT '',
    https             BOOLEAN NOT NULL DEFAULT false,
    cert_id           BIGINT,
    locked            BOOLEAN NOT NULL DEFAULT false,
    safe_mode         BOOLEAN NOT NULL DEFAULT false,
    protected_mode    BOOLEAN NOT NULL DEFAULT false,
    https_required    BOOLEAN NOT NULL DEFAULT false,
    functions         TEXT[]  NOT NULL DEFAULT '{}' CHECK (array_position(functions, NULL) IS NULL),
    created           BIGINT  NOT NULL,
    modified          BIGINT  NOT NULL,
    -- Where the edge forwards the domain's requests (`http://host:port`, checked by the binary);
    -- NULL: the edge's default origin.
    origin            TEXT    CHECK (origin IS NULL OR length(origin) BETWEEN 1 AND 300),
    CHECK (https = (cert_id IS NOT NULL)),
    FOREIGN KEY (cert_id, account_id) REFERENCES certificates (cert_id, account_id)
);
CREATE INDEX domains_by_account ON domains (account_id, created);
CREATE INDEX domains_by_cert ON domains (cert_id);

-- RAM users of an account. Names are unique per account without regard to ASCII case, and kept
-- as given; ids come from an identity column and are never reused.
CREATE TABLE ram_users (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    name       TEXT   COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    created    BIGINT NOT NULL,
    -- Target of the composite foreign keys below: a key or an attachment names a user of its own
    -- account.
    UNIQUE (id, account_id)
);
CREATE UNIQUE INDEX ram_users_by_name ON ram_users (account_id, lower(name));

-- Named policy documents of an account, kept as text (the binary parses them before storing).
CREATE TABLE ram_policies (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    name       TEXT   COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    document   TEXT   NOT NULL,
    created    BIGINT NOT NULL,
    UNIQUE (id, account_id)
);
CREATE UNIQUE INDEX ram_policies_by_name ON ram_policies (account_id, lower(name));

-- Which policies are attached to which users; both of the same account. Deleting a user or a
-- policy deletes its attachments.
CREATE TABLE ram_attachments (
    account_id BIGINT NOT NULL,
    policy_id  BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    PRIMARY KEY (policy_id, user_id),
    FOREIGN KEY (policy_id, account_id) REFERENCES ram_policies (id, account_id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, account_id) REFERENCES ram_users (id, account_id) ON DELETE CASCADE
);
CREATE INDEX ram_attachments_by_user ON ram_attachments (user_id);

-- AccessKeys, the secret sealed (AAD livecert/v1/access-key-secret). `user_id` NULL: root
-- credentials of the account; else a key of that user (deleted with the user). A temporary
-- credential has `sts_expires_at` and the SHA-256 of its SecurityToken (the token itself is never
-- stored), and belongs to a user.
CREATE TABLE access_keys (
    id                 TEXT   COLLATE "C" PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
    account_id         BIGINT NOT NULL REFERENCES accounts (id),
    user_id            BIGINT,
    secret_sealed      BYTEA  NOT NULL,
    status             TEXT   NOT NULL CHECK (status IN ('active', 'inactive')),
    created            BIGINT NOT NULL,
    sts_expires_at     BIGINT,
    sts_token_sha256   BYTEA  CHECK (sts_token_sha256 IS NULL OR length(sts_token_sha256) = 32),
    sts_session_policy TEXT,
    FOREIGN KEY (user_id, account_id) REFERENCES ram_users (id, account_id) ON DELETE CASCADE,
    CHECK ((sts_expires_at IS NULL) = (sts_token_sha256 IS NULL)),
    CHECK (sts_expires_at IS NULL OR user_id IS NOT NULL),
    CHECK (sts_session_policy IS NULL OR sts_expires_at IS NOT NULL)
);
CREATE INDEX access_keys_by_account ON access_keys (account_id);
CREATE INDEX access_keys_by_user ON access_keys (user_id);
CREATE INDEX access_keys_sts_expiry ON access_keys (sts_expires_at) WHERE sts_expires_at IS NOT NULL;

-- The audit log: one row per state-changing call whose signature verified. No foreign keys (rows
-- are written in batches off the request path, and outlive whatever they name); never a secret.
CREATE TABLE audit_log (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time          BIGINT NOT NULL,
    request_id    TEXT   NOT NULL,
    account_id    BIGINT NOT NULL,
    principal     TEXT   NOT NULL,
    access_key_id TEXT   NOT NULL,
    source_ip     TEXT   NOT NULL,
    operation     TEXT   NOT NULL,
    domain        TEXT   COLLATE "C",
    cert_name     TEXT,
    cert_id       BIGINT,
    outcome       TEXT   NOT NULL
);
CREATE INDEX audit_by_time ON audit_log (time, id);
CREATE INDEX audit_by_account ON audit_log (account_id, time, id);
CREATE INDEX audit_by_domain ON audit_log (lower(domain), time, id);

-- The change counter the edge polls (and, later, listens for): bumped by the triggers below (so
-- that no write path can forget it) whenever a domain appears or disappears, changes its
-- certificate, HTTPS switch, status, origin or `https_required`, and whenever the content or
-- status of a bound record changes. Only ever increases. A row locked by each transaction that
-- bumps it until its commit, so values are taken in commit order.
CREATE TABLE changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    counter BIGINT  NOT NULL
);
INSERT INTO changes (id, counter) VALUES (1, 0);

-- Which domains each change of the counter touched (Store::edge_changes_since): one row per
-- domain name ever seen, with the counter value of its last change the edge must see. A deleted
-- domain keeps its row; a domain added again under the same name updates it.
CREATE TABLE edge_changes (
    domain  TEXT   COLLATE "C" PRIMARY KEY,
    counter BIGINT NOT NULL
);
CREATE INDEX edge_changes_by_counter ON edge_changes (counter);

-- Bumps the counter by one, records `names` with the new value, and notifies the channel
-- livecert_changes with it (delivered when the transaction commits).
CREATE FUNCTION livecert_edge_change(names TEXT[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    bumped BIGINT;
BEGIN
    UPDATE changes SET counter = counter + 1 WHERE id = 1 RETURNING counter INTO bumped;
    INSERT INTO edge_changes (domain, counter)
        SELECT n, bumped FROM unnest(names) AS n
        ON CONFLICT (domain) DO UPDATE SET counter = excluded.counter;
    PERFORM pg_notify('livecert_changes', bumped::text);
END;
$$;

CREATE FUNCTION livecert_domain_added_or_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM livecert_edge_change(ARRAY[NEW.name]);
    RETURN NULL;
END;
$$;

CREATE FUNCTION livecert_domain_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM livecert_edge_change(ARRAY[OLD.name]);
    RETURN NULL;
END;
$$;

-- A change to a record's content or status fans out to every domain bound to it; a record bound
-- to no domain moves nothing.
CREATE FUNCTION livecert_bound_certificate_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bound TEXT[];
BEGIN
    SELECT array_agg(name) INTO bound FROM domains WHERE cert_id = NEW.cert_id;
    IF bound IS NOT NULL THEN
        PERFORM livecert_edge_change(bound);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER domains_inserted AFTER INSERT ON domains
    FOR EACH ROW EXECUTE FUNCTION livecert_domain_added_or_changed();

CREATE TRIGGER domains_deleted AFTER DELETE ON domains
    FOR EACH ROW EXECUTE FUNCTION livecert_domain_deleted();

CREATE TRIGGER domains_changed AFTER UPDATE OF cert_id, https, status, origin, https_required ON domains
    FOR EACH ROW
    WHEN (OLD.cert_id IS DISTINCT FROM NEW.cert_id OR OLD.https IS DISTINCT FROM NEW.https
          OR OLD.status IS DISTINCT FROM NEW.status OR OLD.origin IS DISTINCT FROM NEW.origin
          OR OLD.https_required IS DISTINCT FROM NEW.https_required)
    EXECUTE FUNCTION livecert_domain_added_or_changed();

CREATE TRIGGER bound_certificate_changed AFTER UPDATE OF chain_pem, private_key_sealed, status ON certificates
    FOR EACH ROW
    WHEN (OLD.chain_pem IS DISTINCT FROM NEW.chain_pem
          OR OLD.private_key_sealed IS DISTINCT FROM NEW.private_key_sealed
          OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION livecert_bound_certificate_changed();
