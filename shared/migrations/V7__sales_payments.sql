-- Payments and refunds (issue 5). A payment is money received for an order with one tender;
-- several may cover one order (split bills). A refund gives back part or all of one payment.
-- The order keeps running totals (paid_minor, refunded_minor) updated in the same transaction
-- as each row here, under the order's row lock, so they always equal the sums below.

CREATE TABLE sales.payments (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES platform.tenants (id),
    order_id       uuid NOT NULL,
    location_id    uuid NOT NULL,
    tender         text NOT NULL CHECK (tender IN ('cash', 'card', 'gift_card', 'other')),
    -- What the payment puts towards the order; cash change is not part of it.
    amount_minor   bigint NOT NULL CHECK (amount_minor > 0),
    tendered_minor bigint,
    change_minor   bigint NOT NULL DEFAULT 0 CHECK (change_minor >= 0),
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- The processor's reference (card), the gift card's reference, or a label (other).
    reference      text CHECK (length(reference) BETWEEN 1 AND 200),
    card_brand     text CHECK (length(card_brand) BETWEEN 1 AND 30),
    card_last4     text CHECK (card_last4 ~ '^[0-9]{4}$'),
    -- A split by lines: the lines this payment covers (empty for a split by amount).
    line_ids       uuid[] NOT NULL DEFAULT '{}',
    refunded_minor bigint NOT NULL DEFAULT 0
        CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor),
    note           text,
    recorded_by    uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (tendered_minor IS NULL OR tendered_minor = amount_minor + change_minor),
    CHECK (tender = 'cash' OR (tendered_minor IS NULL AND change_minor = 0)),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, order_id) REFERENCES sales.orders (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES platform.locations (tenant_id, id)
);
SELECT platform.enable_tenant_rls('sales.payments');
CREATE INDEX payments_by_order ON sales.payments (tenant_id, order_id, id);

CREATE TABLE sales.refunds (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES platform.tenants (id),
    payment_id   uuid NOT NULL,
    order_id     uuid NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    reason       text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    reference    text CHECK (length(reference) BETWEEN 1 AND 200),
    -- Lines whose stock went back with this refund: [{"line_id", "quantity"}].
    restocked    jsonb NOT NULL DEFAULT '[]',
    recorded_by  uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, payment_id) REFERENCES sales.payments (tenant_id, id),
    FOREIGN KEY (tenant_id, order_id) REFERENCES sales.orders (tenant_id, id)
);
SELECT platform.enable_tenant_rls('sales.refunds');
CREATE INDEX refunds_by_payment ON sales.refunds (tenant_id, payment_id, id);
CREATE INDEX refunds_by_order ON sales.refunds (tenant_id, order_id, id);

-- Stock returned per line (by refunds or by cancelling), so a line is never restocked twice.
ALTER TABLE sales.order_lines
    ADD COLUMN restocked_quantity bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT order_lines_restocked_quantity
        CHECK (restocked_quantity >= 0 AND restocked_quantity <= quantity);

ALTER TABLE sales.orders
    ADD CONSTRAINT orders_refunded_not_above_paid CHECK (refunded_minor <= paid_minor);
