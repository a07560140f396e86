-- Sales: orders and their lines (issue 5). Amounts are integer minor units, priced by the
-- server (olympus::sales::pricing) and stored as priced, so a later catalog change never
-- rewrites a past order. Every table is under the standard tenant RLS policy; references carry
-- the tenant (composite keys) because foreign-key checks bypass RLS.

CREATE SCHEMA IF NOT EXISTS sales;

-- Order numbers: short and human (A-042), unique per location and business day.
CREATE TABLE sales.order_number_counters (
    tenant_id     uuid NOT NULL REFERENCES platform.tenants (id),
    location_id   uuid NOT NULL,
    business_date date NOT NULL,
    last_number   integer NOT NULL,
    PRIMARY KEY (tenant_id, location_id, business_date),
    FOREIGN KEY (tenant_id, location_id) REFERENCES platform.locations (tenant_id, id)
);
SELECT platform.enable_tenant_rls('sales.order_number_counters');

CREATE TABLE sales.orders (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL REFERENCES platform.tenants (id),
    location_id          uuid NOT NULL,
    number               text NOT NULL,
    business_date        date NOT NULL,
    status               text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'placed', 'completed', 'cancelled')),
    channel              text NOT NULL
        CHECK (channel IN ('dine_in', 'takeout', 'delivery', 'pickup', 'online')),
    source               text NOT NULL CHECK (source IN ('pos', 'online', 'kiosk', 'phone')),
    -- The till's own id for the order: a till offline for days replays with it, long after an
    -- Idempotency-Key has expired, and gets the same order back.
    client_order_id      text CHECK (length(client_order_id) BETWEEN 1 AND 100),
    customer_id          uuid,
    table_label          text,
    party_size           integer CHECK (party_size BETWEEN 1 AND 500),
    note                 text,
    currency             text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    discounts            jsonb NOT NULL DEFAULT '[]',
    service_charge       jsonb,
    taxes                jsonb NOT NULL DEFAULT '[]',
    subtotal_minor       bigint NOT NULL CHECK (subtotal_minor >= 0),
    discount_minor       bigint NOT NULL CHECK (discount_minor >= 0),
    tax_minor            bigint NOT NULL CHECK (tax_minor >= 0),
    tax_included_minor   bigint NOT NULL CHECK (tax_included_minor >= 0),
    service_charge_minor bigint NOT NULL CHECK (service_charge_minor >= 0),
    tip_minor            bigint NOT NULL CHECK (tip_minor >= 0),
    total_minor          bigint NOT NULL CHECK (total_minor >= 0),
    paid_minor           bigint NOT NULL DEFAULT 0 CHECK (paid_minor >= 0),
    refunded_minor       bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    -- When the order was taken by the till's clock (reporting uses it) and when it arrived.
    ordered_at           timestamptz NOT NULL,
    created_by           uuid,
    placed_at            timestamptz,
    completed_at         timestamptz,
    cancelled_at         timestamptz,
    cancel_reason        text,
    version              integer NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, location_id, business_date, number),
    UNIQUE (tenant_id, client_order_id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES platform.locations (tenant_id, id)
);
SELECT platform.enable_tenant_rls('sales.orders');
CREATE INDEX orders_listing ON sales.orders (tenant_id, location_id, business_date DESC, id DESC);
CREATE INDEX orders_by_status ON sales.orders (tenant_id, status, id DESC);
CREATE INDEX orders_by_customer ON sales.orders (tenant_id, customer_id, id DESC)
    WHERE customer_id IS NOT NULL;

CREATE TABLE sales.order_lines (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL REFERENCES platform.tenants (id),
    order_id             uuid NOT NULL,
    position             integer NOT NULL,
    variant_id           uuid NOT NULL,
    product_id           uuid NOT NULL,
    product_name         text NOT NULL,
    variant_name         text NOT NULL,
    sku                  text,
    category_id          uuid,
    tax_category         text NOT NULL,
    modifiers            jsonb NOT NULL DEFAULT '[]',
    note                 text,
    quantity             bigint NOT NULL CHECK (quantity > 0),
    base_price_minor     bigint NOT NULL,
    unit_price_minor     bigint NOT NULL CHECK (unit_price_minor >= 0),
    gross_minor          bigint NOT NULL CHECK (gross_minor >= 0),
    discounts            jsonb NOT NULL DEFAULT '[]',
    order_discount_minor bigint NOT NULL CHECK (order_discount_minor >= 0),
    discount_minor       bigint NOT NULL CHECK (discount_minor >= 0),
    net_minor            bigint NOT NULL CHECK (net_minor >= 0),
    taxes                jsonb NOT NULL DEFAULT '[]',
    tax_minor            bigint NOT NULL CHECK (tax_minor >= 0),
    total_minor          bigint NOT NULL CHECK (total_minor >= 0),
    cost_minor           bigint,
    track_inventory      boolean NOT NULL,
    UNIQUE (tenant_id, order_id, position),
    FOREIGN KEY (tenant_id, order_id) REFERENCES sales.orders (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, variant_id) REFERENCES catalog.variants (tenant_id, id)
);
SELECT platform.enable_tenant_rls('sales.order_lines');
