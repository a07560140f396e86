-- Analytics (issue 6): the business day's configurable start, and the sales rollups.

-- When a location's business day starts, in local wall-clock time: orders before it belong
-- to the previous business day (a bar open until 03:00 sets 04:00). Before noon, so most of a
-- business day lies on its own date. olympus::sales::orders::business_date applies it.
ALTER TABLE platform.locations
    ADD COLUMN day_cutoff time NOT NULL DEFAULT '00:00'
        CONSTRAINT locations_day_cutoff_morning CHECK (day_cutoff < '12:00');


-- Sales rollups: one row per tenant, location and business day (and per channel, per local
-- hour, per variant), recomputed whole from sales.orders, sales.order_lines and sales.refunds
-- by olympus::analytics::rollup, so the reports never scan orders.
--
-- What counts: orders `placed` or `completed` are sales (an open order is not yet one, a
-- cancelled one never was), on their own business_date (the till's clock: late and offline
-- orders land on the day they were taken). Refunds count on the business day of the refund
-- itself (its time at the order's location, with that location's day cutoff), whatever the
-- order's status or day. Money is integer minor units in the location's currency:
--   gross_sales = Σ line gross (unit price × quantity), discounts = Σ line and order discounts,
--   net_sales = gross − discounts (inclusive taxes are inside it: tax_included_minor says how
--   much), tax = every tax, inclusive and exclusive, total = what the orders charge
--   (net + exclusive tax + service charges + tips), refunds = money given back.
--   items_sold = Σ line quantities, covers = Σ party sizes (orders without one add nothing),
--   cost_of_goods = Σ unit cost × quantity of the lines whose cost is known (costed_items of
--   them), average_order = net_sales / order_count, rounded.
CREATE SCHEMA IF NOT EXISTS analytics;

CREATE TABLE analytics.sales_daily (
    tenant_id             uuid NOT NULL REFERENCES platform.tenants (id),
    location_id           uuid NOT NULL,
    business_date         date NOT NULL,
    currency              text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    order_count           bigint NOT NULL,
    gross_sales_minor     bigint NOT NULL,
    discounts_minor       bigint NOT NULL,
    net_sales_minor       bigint NOT NULL,
    tax_minor             bigint NOT NULL,
    tax_included_minor    bigint NOT NULL,
    service_charges_minor bigint NOT NULL,
    tips_minor            bigint NOT NULL,
    total_minor           bigint NOT NULL,
    refunds_minor         bigint NOT NULL,
    refund_count          bigint NOT NULL,
    items_sold            bigint NOT NULL,
    covers                bigint NOT NULL,
    cost_of_goods_minor   bigint NOT NULL,
    costed_items          bigint NOT NULL,
    average_order_minor   bigint GENERATED ALWAYS AS (
        CASE WHEN order_count > 0 THEN round(net_sales_minor::numeric / order_count)::bigint
             ELSE 0 END) STORED,
    rolled_up_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, location_id, business_date),
    FOREIGN KEY (tenant_id, location_id) REFERENCES platform.locations (tenant_id, id)
);
CREATE INDEX sales_daily_by_date ON analytics.sales_daily (tenant_id, business_date);
SELECT platform.enable_tenant_rls('analytics.sales_daily');

-- Breakdowns are tables of the same figures, not jsonb on the daily row: a report filters
-- and sums them in SQL (channel = $1, hours of a range) with typed integer columns, where jsonb
-- would be unpacked for every row of every request, and a day's breakdown would be rewritten
-- whole to change one channel. Refunds go to the refunded order's channel and to the local
-- hour of the refund.
CREATE TABLE analytics.sales_by_channel (
    LIKE analytics.sales_daily INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS,
    channel text NOT NULL,
    PRIMARY KEY (tenant_id, location_id, business_date, channel),
    FOREIGN KEY (tenant_id) REFERENCES platform.tenants (id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES platform.locations (tenant_id, id)
);
CREATE INDEX sales_by_channel_by_date ON analytics.sales_by_channel (tenant_id, business_date);
SELECT platform.enable_tenant_rls('analytics.sales_by_channel');

-- By local wall-clock hour (`local_hour` is the hour's start as the location's clocks show it;
-- the two 01:00 hours of a fall-back night are one), and by channel within it, so an hourly
-- report can be filtered by channel too.
CREATE TABLE analytics.sales_hourly (
    LIKE analytics.sales_daily INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS,
    local_hour timestamp NOT NULL,
    channel    text NOT NULL,
    PRIMARY KEY (tenant_id, location_id, business_date, local_hour, channel),
    FOREIGN KEY (tenant_id) REFERENCES platform.tenants (id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES platform.locations (tenant_id, id)
);
CREATE INDEX sales_hourly_by_date ON analytics.sales_hourly (tenant_id, business_date);
SELECT platform.enable_tenant_rls('analytics.sales_hourly');

-- Per variant and day: what sold, for top products and margins. Names are those the lines
-- were sold under.
CREATE TABLE analytics.product_sales_daily (
    tenant_id           uuid NOT NULL REFERENCES platform.tenants (id),
    location_id         uuid NOT NULL,
    business_date       date NOT NULL,
    variant_id          uuid NOT NULL,
    product_id          uuid NOT NULL,
    product_name        text NOT NULL,
    variant_name        text NOT NULL,
    currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    order_count         bigint NOT NULL,
    quantity            bigint NOT NULL,
    gross_sales_minor   bigint NOT NULL,
    discounts_minor     bigint NOT NULL,
    net_sales_minor     bigint NOT NULL,
    cost_of_goods_minor bigint NOT NULL,
    costed_quantity     bigint NOT NULL,
    rolled_up_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, location_id, business_date, variant_id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES platform.locations (tenant_id, id)
);
CREATE INDEX product_sales_daily_by_date ON analytics.product_sales_daily (tenant_id, business_date);
SELECT platform.enable_tenant_rls('analytics.product_sales_daily');

-- The incremental rollup's progress per tenant. The row is also the tenant's rollup lock:
-- every run (incremental or backfill) locks it first, so two runs never rewrite the same days
-- at once. `watermark`: every change to orders (updated_at) or locations at or after it may
-- not be rolled up yet; NULL before the first run (everything is).
CREATE TABLE analytics.rollup_state (
    tenant_id   uuid PRIMARY KEY REFERENCES platform.tenants (id),
    watermark   timestamptz,
    last_run_at timestamptz,
    last_days   bigint NOT NULL DEFAULT 0,
    runs        bigint NOT NULL DEFAULT 0
);
SELECT platform.enable_tenant_rls('analytics.rollup_state');

-- What the incremental rollup reads: orders changed since the watermark (every write to an
-- order, including its payments and refunds, sets its updated_at), and refunds by time.
CREATE INDEX orders_changed ON sales.orders (tenant_id, updated_at);
CREATE INDEX refunds_by_time ON sales.refunds (tenant_id, created_at);

-- The daily figures of all the tenant's locations together, per currency: what a dashboard
-- asks most (every location, no channel), read from one row a day instead of one per
-- location a day. Rebuilt from analytics.sales_daily for every date a rollup touches.
CREATE TABLE analytics.sales_daily_tenant (
    LIKE analytics.sales_daily INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS,
    PRIMARY KEY (tenant_id, business_date, currency),
    FOREIGN KEY (tenant_id) REFERENCES platform.tenants (id)
);
ALTER TABLE analytics.sales_daily_tenant DROP COLUMN location_id;
SELECT platform.enable_tenant_rls('analytics.sales_daily_tenant');
