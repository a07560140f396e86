-- The BigQuery export (issue 6): how far each tenant's tables have been exported.
--
-- One row per tenant and exported table (the names of shared/bigquery/*.json). `watermark`:
-- every source row changed at or after it may not be in BigQuery yet; NULL before the first
-- export (everything is). It moves only after every row up to it was accepted by BigQuery, in
-- its own statement after the writes: a run that dies between a write and this update leaves
-- it where it was, and the next run writes the same rows again under the same insert ids
-- (olympus::analytics::export says why a reader still sees each row once).
CREATE TABLE analytics.export_state (
    tenant_id     uuid NOT NULL REFERENCES platform.tenants (id),
    table_name    text NOT NULL CHECK (table_name ~ '^[a-z_]{1,64}$'),
    watermark     timestamptz,
    last_run_at   timestamptz,
    last_rows     bigint NOT NULL DEFAULT 0,
    rows_exported bigint NOT NULL DEFAULT 0,
    runs          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, table_name)
);
SELECT platform.enable_tenant_rls('analytics.export_state');

-- What the export reads besides orders by updated_at (V10's orders_changed): movements by the
-- time they were recorded and rollup rows by the time they were rewritten.
CREATE INDEX movements_recorded ON inventory.movements (tenant_id, recorded_at);
CREATE INDEX sales_daily_rolled_up ON analytics.sales_daily (tenant_id, rolled_up_at);
CREATE INDEX product_sales_daily_rolled_up ON analytics.product_sales_daily (tenant_id, rolled_up_at);
