-- cachesrv origins example: the system of record for "user:{id}" keys.
-- Run once:  psql "$PGURL" -f configs/examples/origins/schema.sql

CREATE TABLE IF NOT EXISTS users (
    id      int PRIMARY KEY,
    payload text NOT NULL
);

-- Event-driven invalidation: every change to a row NOTIFYs cachesrv on the
-- channel named by the origin's "listen" setting. The payload is a JSON
-- object {"db": 0, "keys": [...], "tags": [...]}; "db" defaults to 0 and a
-- payload that is not a JSON object is taken as one key name.
CREATE OR REPLACE FUNCTION users_notify_cachesrv() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    uid int := COALESCE(NEW.id, OLD.id);
BEGIN
    PERFORM pg_notify('cachesrv_invalidate',
                      json_build_object('keys', json_build_array('user:' || uid))::text);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS users_notify_cachesrv ON users;
CREATE TRIGGER users_notify_cachesrv
    AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_notify_cachesrv();

INSERT INTO users (id, payload) VALUES
    (1, '{"name":"Ada"}'),
    (2, '{"name":"Grace"}')
ON CONFLICT (id) DO NOTHING;
