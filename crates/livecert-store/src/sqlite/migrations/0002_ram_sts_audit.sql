-- livecert schema, version 2 (SQLite): RAM users, policies and their attachments, user and
-- temporary (STS) AccessKeys, and the audit log (spec/access.md).
--
-- Names of users and policies are unique per account without regard to ASCII case (COLLATE
-- NOCASE), and kept as given. Users and policies get ids from AUTOINCREMENT, so an id is never
-- reused after a deletion.

-- RAM users of an account.
CREATE TABLE ram_users (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    name       TEXT    NOT NULL COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 64),
    created    INTEGER NOT NULL,
    UNIQUE (account_id, name),
    -- Target of the composite foreign keys below: a key or an attachment names a user of its own
    -- account.
    UNIQUE (id, account_id)
);

-- Named policy documents of an account, kept as text (the binary parses them before storing).
CREATE TABLE ram_policies (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    name       TEXT    NOT NULL COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 128),
    document   TEXT    NOT NULL,
    created    INTEGER NOT NULL,
    UNIQUE (account_id, name),
    UNIQUE (id, account_id)
);

-- Which policies are attached to which users; both of the same account. Deleting a user or a
-- policy deletes its attachments.
CREATE TABLE ram_attachments (
    account_id INTEGER NOT NULL,
    policy_id  INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    PRIMARY KEY (policy_id, user_id),
    FOREIGN KEY (policy_id, account_id) REFERENCES ram_policies (id, account_id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, account_id) REFERENCES ram_users (id, account_id) ON DELETE CASCADE
);
CREATE INDEX ram_attachments_by_user ON ram_attachments (user_id);

-- AccessKeys, rebuilt with their principal and the STS columns. `user_id` NULL: root credentials
-- of the account; else a key of that user (deleted with the user). A temporary credential has
-- `sts_expires_at` and the SHA-256 of its SecurityToken (the token itself is never stored), and
-- belongs to a user. Nothing references access_keys, so the table is replaced in place.
CREATE TABLE access_keys_v2 (
    id                 TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
    account_id         INTEGER NOT NULL REFERENCES accounts (id),
    user_id            INTEGER,
    secret_sealed      BLOB    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('active', 'inactive')),
    created            INTEGER NOT NULL,
    sts_expires_at     INTEGER,
    sts_token_sha256   BLOB    CHECK (sts_token_sha256 IS NULL OR length(sts_token_sha256) = 32),
    sts_session_policy TEXT,
    FOREIGN KEY (user_id, account_id) REFERENCES ram_users (id, account_id) ON DELETE CASCADE,
    CHECK ((sts_expires_at IS NULL) = (sts_token_sha256 IS NULL)),
    CHECK (sts_expires_at IS NULL OR user_id IS NOT NULL),
    CHECK (sts_session_policy IS NULL OR sts_expires_at IS NOT NULL)
);
INSERT INTO access_keys_v2 (id, account_id, user_id, secret_sealed, status, created)
    SELECT id, account_id, NULL, secret_sealed, status, created FROM access_keys;
DROP TABLE access_keys;
ALTER TABLE access_keys_v2 RENAME TO access_keys;
CREATE INDEX access_keys_by_account ON access_keys (account_id);
CREATE INDEX access_keys_by_user ON access_keys (user_id);
CREATE INDEX access_keys_sts_expiry ON access_keys (sts_expires_at) WHERE sts_expires_at IS NOT NULL;

-- The audit log: one row per state-changing call whose signature verified. No foreign keys (rows
-- are written in batches off the request path, and outlive whatever they name); never a secret.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    time          INTEGER NOT NULL,
    request_id    TEXT    NOT NULL,
    account_id    INTEGER NOT NULL,
    principal     TEXT    NOT NULL,
    access_key_id TEXT    NOT NULL,
    source_ip     TEXT    NOT NULL,
    operation     TEXT    NOT NULL,
    domain        TEXT    COLLATE NOCASE,
    cert_name     TEXT,
    cert_id       INTEGER,
    outcome       TEXT    NOT NULL
);
CREATE INDEX audit_by_time ON audit_log (time, id);
CREATE INDEX audit_by_account ON audit_log (account_id, time, id);
CREATE INDEX audit_by_domain ON audit_log (domain, time, id);
