-- The ACME issuer (issue 13): its account, its orders, the challenges the edge answers and each
-- free record's renewal time. Nothing here is a key in the clear: the account's credentials are
-- sealed with the master key; a challenge row holds only the key authorization the edge serves
-- publicly (the TLS-ALPN-01 certificate and its key are made in memory by each edge node).

-- This installation's ACME account on each directory it has used: instant-acme's credentials
-- (the account URL and its PKCS#8 key) as JSON, sealed with the master key.
CREATE TABLE acme_accounts (
    directory          TEXT    PRIMARY KEY,
    credentials_sealed BYTEA   NOT NULL,
    created            BIGINT  NOT NULL
);

-- One row per issuance or renewal of a free record. A pending row is worked on by the node that
-- holds its lease (lease_owner until lease_until); a lease that runs out is taken over.
CREATE TABLE acme_orders (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id         BIGINT  NOT NULL,
    cert_id            BIGINT  NOT NULL,
    domain             TEXT    NOT NULL,
    purpose            TEXT    NOT NULL CHECK (purpose IN ('issue', 'renew')),
    state              TEXT    NOT NULL CHECK (state IN ('pending', 'valid', 'failed')),
    attempts           BIGINT  NOT NULL DEFAULT 0,
    next_attempt       BIGINT  NOT NULL,
    lease_owner        TEXT,
    lease_until        BIGINT,
    order_url          TEXT,
    challenge_type     TEXT,
    problem_type       TEXT,
    problem_detail     TEXT,
    problem_identifier TEXT,
    created            BIGINT  NOT NULL,
    updated            BIGINT  NOT NULL
);
-- At most one order in flight per record.
CREATE UNIQUE INDEX acme_orders_one_pending ON acme_orders (cert_id) WHERE state = 'pending';
CREATE INDEX acme_orders_due ON acme_orders (next_attempt) WHERE state = 'pending';
CREATE INDEX acme_orders_by_domain ON acme_orders (domain, id);
CREATE INDEX acme_orders_by_cert ON acme_orders (cert_id, id);

-- Challenges in flight: HTTP-01 answers GET /.well-known/acme-challenge/<token> with the key
-- authorization; TLS-ALPN-01 puts its SHA-256 in the certificate for the domain's SNI.
CREATE TABLE acme_challenges (
    token             TEXT    PRIMARY KEY,
    domain            TEXT    NOT NULL,
    challenge_type    TEXT    NOT NULL CHECK (challenge_type IN ('http-01', 'tls-alpn-01')),
    key_authorization TEXT    NOT NULL,
    order_id          BIGINT  NOT NULL,
    expires           BIGINT  NOT NULL
);
CREATE INDEX acme_challenges_by_order ON acme_challenges (order_id);

-- When each free record issued by ACME is to be renewed (two thirds of its lifetime, or the
-- CA's ACME Renewal Information window). A free record without a row renews at two thirds.
CREATE TABLE acme_renewals (
    cert_id  BIGINT  PRIMARY KEY,
    renew_at BIGINT  NOT NULL
);
