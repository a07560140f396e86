-- The hot path of taking an order, measured again (issue 5's benchmark, `perf record` of the
-- cluster): foreign-key checks were 21% of PostgreSQL's CPU per placed order. Each is a query
-- of its own per row, and three of them lock rows that every order shares FOR KEY SHARE: the
-- location (one per order), the variants sold (one per line) and their stock rows (one per
-- movement; those rows are also updated by every order, so each check walks a long chain of
-- row versions). Concurrent lockers of one row make PostgreSQL build a new MultiXact for each.
--
-- The three keys below go. What they guaranteed still holds:
-- * the referencing rows are written only by code that read the parent in the same
--   transaction, under row-level security: the order's location (orders::allot, the quote),
--   the lines' variants (the quote), the movements' stock rows (locked FOR UPDATE by
--   inventory::apply);
-- * and the parents are never deleted — locations are deactivated, variants archived, stock
--   rows kept at zero — which the triggers below now enforce, so no order, line or ledger row
--   can be orphaned later.
ALTER TABLE sales.orders DROP CONSTRAINT orders_tenant_id_location_id_fkey;
ALTER TABLE sales.order_lines DROP CONSTRAINT order_lines_tenant_id_variant_id_fkey;
ALTER TABLE inventory.movements DROP CONSTRAINT movements_tenant_id_variant_id_location_id_fkey;

CREATE FUNCTION platform.forbid_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of %.% are kept for the history that refers to them (%)',
        TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0]
        USING ERRCODE = 'foreign_key_violation';
END;
$$;

CREATE TRIGGER kept_for_history BEFORE DELETE ON platform.locations
    FOR EACH ROW EXECUTE FUNCTION platform.forbid_delete('deactivate a location instead');
CREATE TRIGGER kept_for_history BEFORE DELETE ON catalog.variants
    FOR EACH ROW EXECUTE FUNCTION platform.forbid_delete('archive a variant instead');
CREATE TRIGGER kept_for_history BEFORE DELETE ON inventory.stock
    FOR EACH ROW EXECUTE FUNCTION platform.forbid_delete('stock rows stay, at zero if need be');
