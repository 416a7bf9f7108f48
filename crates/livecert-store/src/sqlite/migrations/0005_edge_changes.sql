-- livecert schema, version 5 (SQLite): which domains each change of the change counter touched, so
-- that the edge applies only the changed domains instead of reloading everything
-- (Store::edge_changes_since). One row per domain name ever seen: the counter value of the domain's
-- last change the edge must see. A deleted domain keeps its row (the edge learns of the removal from
-- a row without a domain); a domain added again under the same name updates it.
--
-- The same four triggers as before bump the counter and, in the same statement list, record the
-- domains they concern with the new value: a change to a record's content or status fans out to
-- every domain bound to it.
CREATE TABLE edge_changes (
    domain  TEXT    PRIMARY KEY,
    counter INTEGER NOT NULL
);
CREATE INDEX edge_changes_by_counter ON edge_changes (counter);

DROP TRIGGER domains_inserted;
CREATE TRIGGER domains_inserted AFTER INSERT ON domains
BEGIN
    UPDATE changes SET counter = counter + 1 WHERE id = 1;
    INSERT INTO edge_changes (domain, counter)
        VALUES (NEW.name, (SELECT counter FROM changes WHERE id = 1))
        ON CONFLICT (domain) DO UPDATE SET counter = excluded.counter;
END;

DROP TRIGGER domains_deleted;
CREATE TRIGGER domains_deleted AFTER DELETE ON domains
BEGIN
    UPDATE changes SET counter = counter + 1 WHERE id = 1;
    INSERT INTO edge_changes (domain, counter)
        VALUES (OLD.name, (SELECT counter FROM changes WHERE id = 1))
        ON CONFLICT (domain) DO UPDATE SET counter = excluded.counter;
END;

DROP TRIGGER domains_changed;
CREATE TRIGGER domains_changed AFTER UPDATE OF cert_id, https, status, origin, https_required ON domains
WHEN OLD.cert_id IS NOT NEW.cert_id OR OLD.https IS NOT NEW.https OR OLD.status IS NOT NEW.status
     OR OLD.origin IS NOT NEW.origin OR OLD.https_required IS NOT NEW.https_required
BEGIN
    UPDATE changes SET counter = counter + 1 WHERE id = 1;
    INSERT INTO edge_changes (domain, counter)
        VALUES (NEW.name, (SELECT counter FROM changes WHERE id = 1))
        ON CONFLICT (domain) DO UPDATE SET counter = excluded.counter;
END;

DROP TRIGGER bound_certificate_changed;
CREATE TRIGGER bound_certificate_changed AFTER UPDATE OF chain_pem, private_key_sealed, status ON certificates
WHEN (OLD.chain_pem IS NOT NEW.chain_pem
       OR OLD.private_key_sealed IS NOT NEW.private_key_sealed
       OR OLD.status IS NOT NEW.status)
     AND EXISTS (SELECT 1 FROM domains WHERE domains.cert_id = NEW.cert_id)
BEGIN
    UPDATE changes SET counter = counter + 1 WHERE id = 1;
    INSERT INTO edge_changes (domain, counter)
        SELECT name, (SELECT counter FROM changes WHERE id = 1) FROM domains
        WHERE domains.cert_id = NEW.cert_id
        ON CONFLICT (domain) DO UPDATE SET counter = excluded.counter;
END;
