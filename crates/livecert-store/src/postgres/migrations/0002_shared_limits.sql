-- livecert schema, version 2 (PostgreSQL): the state every API node shares (spec/access.md,
-- "Rate limits"; spec/protocol.md §5). SQLite has no counterpart: one `serve` holds an SQLite
-- database and keeps both in memory.
--
-- Both tables are written outside the write lock, one statement per call, on connections with
-- `synchronous_commit = off` (src/postgres/limits.rs): a row is visible to every node at its
-- commit; a crash of the server may lose the last fraction of a second of them.

-- GCRA buckets: the theoretical arrival time (TAT) of one (account, operation), in Unix
-- microseconds of the nodes' clocks. A missing row, or a TAT in the past, is an idle bucket; rows
-- idle for a minute are deleted in bounded steps. No foreign key: a bucket decides nothing about
-- the account, and an insert must not wait on `accounts`.
CREATE TABLE rate_limits (
    account_id BIGINT NOT NULL,
    action     TEXT   COLLATE "C" NOT NULL,
    tat_us     BIGINT NOT NULL,
    PRIMARY KEY (account_id, action)
);
CREATE INDEX rate_limits_by_tat ON rate_limits (tat_us);

-- Nonces seen inside the clock window: the SHA-256 of (AccessKeyId, SignatureNonce) with the Unix
-- second from which the entry may be forgotten (the request's timestamp plus the window: after it
-- the clock check refuses a replay anyway). An entry past it is taken over by the next request
-- with the same key, and deleted in bounded steps.
CREATE TABLE nonces (
    key       BYTEA  PRIMARY KEY CHECK (octet_length(key) = 32),
    forget_at BIGINT NOT NULL
);
CREATE INDEX nonces_by_forget_at ON nonces (forget_at);
