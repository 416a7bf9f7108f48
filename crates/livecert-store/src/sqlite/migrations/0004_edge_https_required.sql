-- livecert schema, version 4 (SQLite): the edge's plain-HTTP port redirects the domains that
-- require HTTPS (spec/edge.md, `--edge-http-listen`), so it reads `https_required`: a change to it
-- is a change the edge must see (the counter moves).
DROP TRIGGER domains_changed;
CREATE TRIGGER domains_changed AFTER UPDATE OF cert_id, https, status, origin, https_required ON domains
WHEN OLD.cert_id IS NOT NEW.cert_id OR OLD.https IS NOT NEW.https OR OLD.status IS NOT NEW.status
     OR OLD.origin IS NOT NEW.origin OR OLD.https_required IS NOT NEW.https_required
BEGIN
    UPDATE changes SET counter = counter + 1 WHERE id = 1;
END;
