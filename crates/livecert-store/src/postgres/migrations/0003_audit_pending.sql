-- Audit entries written in the transaction of the change they describe (issue 10): appended here,
-- without secondary indexes, so that a change pays little for its entry inside the write lock; the
-- audit flusher of any node moves them into audit_log in batches (DELETE … RETURNING, so two nodes
-- never move one row twice). Listings read both tables.
CREATE TABLE audit_pending (
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
