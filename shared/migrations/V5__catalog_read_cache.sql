-- The one-statement freshness check of cached catalog reads (olympus::catalog::cache).
--
-- Every catalog write takes the next number from the tenant's change counter (V4), so an
-- unchanged counter means an unchanged catalog. A cached product is answered only when the
-- counter still holds the value it was read at; checking that is this one statement, where a
-- tenant-scoped read would need four (BEGIN, tenant setting, select, COMMIT).
--
-- The tenant is set for the function's own query (RLS stays in force) and the caller's setting
-- is put back, so calling it inside another tenant's transaction changes nothing for that
-- transaction. The app role could set any tenant itself; this grants it nothing new.
CREATE FUNCTION catalog.tenant_change_seq(tenant uuid) RETURNS bigint
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    previous text := current_setting('app.tenant_id', true);
    latest bigint;
BEGIN
    PERFORM set_config('app.tenant_id', tenant::text, true);
    SELECT c.seq INTO latest FROM catalog.change_counters c WHERE c.tenant_id = tenant;
    PERFORM set_config('app.tenant_id', coalesce(previous, ''), true);
    RETURN coalesce(latest, 0);
END;
$$;
