-- livecert schema, version 3 (SQLite): a domain's origin, where the edge forwards its requests
-- (spec/edge.md, "Proxies each request to the domain's origin"). NULL: the edge's default origin,
-- if it has one. The binary checks the form (`http://host:port`) before storing it.
ALTER TABLE domains ADD COLUMN origin TEXT CHECK (origin IS NULL OR length(origin) BETWEEN 1 AND 300);

-- The edge reloads when the counter moves: a changed origin is a change it must see.
DROP TRIGGER domains_changed;
CREATE TRIGGER domains_changed AFTER UPDATE OF cert_id, https, status, origin ON domains
WHEN OLD.cert_id IS NOT NEW.cert_id OR OLD.https IS NOT NEW.https OR OLD.status IS NOT NEW.status
     OR OLD.origin IS NOT NEW.origin
BEGIN
    UPDATE changes SET counter = counter + 1 WHERE id = 1;
END;
