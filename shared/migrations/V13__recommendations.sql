-- Recommendations (issue 6): frequently bought together, from the co-occurrence of products in
-- the baskets of a recent window, rebuilt per tenant by the scheduled `build-recommendations`
-- job (olympus::analytics::recommendations::build).
--
-- Grain: the product, not the variant (a small and a large latte are one latte to a shopper;
-- variants would split the counts of a small shop below any useful support). A basket is the
-- set of distinct products of one order `placed` or `completed` (the sales of V10; an open order
-- is not yet one, a cancelled one never was) whose till time `ordered_at` lies in the window.
--
-- Measures of a pair (A → B) over the window's N baskets, kept when pair_count reaches the
-- build's minimum (min_pair_count):
--   support    = pair_count / N            (how often A and B are bought together)
--   confidence = pair_count / count(A)     (how often a basket with A also holds B)
--   lift       = confidence / (count(B) / N) = pair_count · N / (count(A) · count(B))
--                (> 1: B comes with A more often than B's popularity alone explains)
-- They are ratios, not money: double precision computed once from the integer counts, which
-- are stored beside them.
--
-- Atomic rebuilds: one transaction per tenant deletes the tenant's rows and inserts the new
-- ones, so a reader sees the whole previous set or the whole new one (MVCC), never a mix. The
-- tenant's recommendation_builds row is its lock: every build locks it first (an upsert, so
-- the first build creates it), so two builds of one tenant take turns.

CREATE TABLE analytics.recommendation_builds (
    tenant_id      uuid PRIMARY KEY REFERENCES platform.tenants (id),
    window_days    integer NOT NULL DEFAULT 0,
    window_from    timestamptz,
    window_to      timestamptz,
    min_pair_count bigint NOT NULL DEFAULT 0,
    basket_count   bigint NOT NULL DEFAULT 0,
    product_count  bigint NOT NULL DEFAULT 0,
    pair_count     bigint NOT NULL DEFAULT 0,
    -- NULL until the first build commits.
    built_at       timestamptz,
    runs           bigint NOT NULL DEFAULT 0
);
SELECT platform.enable_tenant_rls('analytics.recommendation_builds');

-- Per product of the window: the baskets holding it (the popularity the customer
-- recommendations fall back on, and every pair's antecedent and consequent count).
CREATE TABLE analytics.product_baskets (
    tenant_id    uuid NOT NULL REFERENCES platform.tenants (id),
    product_id   uuid NOT NULL,
    basket_count bigint NOT NULL CHECK (basket_count > 0),
    -- Distinct customers among those baskets (orders without a customer add none).
    customer_count bigint NOT NULL CHECK (customer_count >= 0),
    PRIMARY KEY (tenant_id, product_id)
);
CREATE INDEX product_baskets_popular ON analytics.product_baskets (tenant_id, basket_count DESC);
SELECT platform.enable_tenant_rls('analytics.product_baskets');

-- Directed pairs: (A, B) and (B, A) are both stored (their confidence differs).
CREATE TABLE analytics.product_pairs (
    tenant_id        uuid NOT NULL REFERENCES platform.tenants (id),
    antecedent_id    uuid NOT NULL,
    consequent_id    uuid NOT NULL,
    pair_count       bigint NOT NULL CHECK (pair_count > 0),
    antecedent_count bigint NOT NULL CHECK (antecedent_count >= pair_count),
    consequent_count bigint NOT NULL CHECK (consequent_count >= pair_count),
    basket_count     bigint NOT NULL CHECK (basket_count >= antecedent_count),
    support          double precision NOT NULL CHECK (support > 0 AND support <= 1),
    confidence       double precision NOT NULL CHECK (confidence > 0 AND confidence <= 1),
    lift             double precision NOT NULL CHECK (lift > 0),
    window_days      integer NOT NULL,
    window_from      timestamptz NOT NULL,
    window_to        timestamptz NOT NULL,
    built_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, antecedent_id, consequent_id),
    CHECK (antecedent_id <> consequent_id)
);
CREATE INDEX product_pairs_by_lift
    ON analytics.product_pairs (tenant_id, antecedent_id, lift DESC);
SELECT platform.enable_tenant_rls('analytics.product_pairs');

