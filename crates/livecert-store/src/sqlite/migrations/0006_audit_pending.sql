-- Audit entries written in the transaction of the change they describe (issue 10): appended here,
-- without secondary indexes, so that a change pays one page for its entry rather than one in each of
-- audit_log's indexes; the audit flusher moves them into audit_log in batches, in id order.
-- Listings read both tables.
CREATE TABLE audit_pending (
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
