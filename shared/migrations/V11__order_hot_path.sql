-- The hot path of taking an order (issue 5's benchmark), measured with perf and statement logs.
--
-- 1. A foreign key check locks the referenced row FOR KEY SHARE until commit. Every order, its
--    lines and its stock movements referenced platform.tenants directly, so concurrent orders
--    of a tenant all share-locked its one row: PostgreSQL then builds a new MultiXact for each
--    extra locker (and dirties the row), work that grew with the number of tills. These tables
--    also reference a parent by (tenant_id, ...) whose own key to platform.tenants already
--    guarantees the tenant, so the direct keys add nothing but that cost.
ALTER TABLE sales.orders DROP CONSTRAINT IF EXISTS orders_tenant_id_fkey;          -- via platform.locations
ALTER TABLE sales.order_lines DROP CONSTRAINT IF EXISTS order_lines_tenant_id_fkey; -- via sales.orders
ALTER TABLE inventory.movements DROP CONSTRAINT IF EXISTS movements_tenant_id_fkey; -- via inventory.stock
ALTER TABLE sales.order_number_counters
    DROP CONSTRAINT IF EXISTS order_number_counters_tenant_id_fkey;              -- via platform.locations

-- 2. The stored answer of an idempotent request (an order's JSON, a few kB) is compressed on
--    insert; lz4 does it several times faster than the default pglz.
ALTER TABLE platform.idempotency_keys ALTER COLUMN response_body SET COMPRESSION lz4;
