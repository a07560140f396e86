//! Recommendations (V13): frequently bought together, built per tenant by the scheduled
//! `build-recommendations` job ([`build`]), and the two reads answered from what it built:
//! a product's companions ([`for_product`]) and a customer's suggestions ([`for_customer`]).
//!
//! Grain: products, not variants (see V13). A basket is the distinct products of one order
//! `placed` or `completed` whose `ordered_at` lies in the window (the last
//! [`Settings::window_days`] days before the build). Per directed pair (A → B) the build
//! stores the counts and support = n(A∧B)/N, confidence = n(A∧B)/n(A) and lift =
//! n(A∧B)·N/(n(A)·n(B)) ([`measures`]), for the pairs seen together in at least
//! [`Settings::min_pair_count`] baskets ([`Settings::threshold`]: the larger of a fixed count
//! and a share of the baskets, so a big shop's one-off pairs do not flood the table and a
//! small one's still show).
//!
//! Customer recommendations are item-based collaborative filtering over that co-occurrence
//! table (item-to-item, as Linden, Smith and York describe Amazon's, with association-rule
//! confidence as the item similarity): every product the customer has not bought scores the
//! sum, over the products the customer did buy, of confidence(bought → it), counting only
//! positively associated pairs (lift > 1, so a product that is merely popular everywhere does
//! not win by being in every basket). Archived products and products without a live variant
//! are never suggested. A customer with no purchases, or whose purchases have no such
//! associations, gets the window's most popular products instead (by baskets, then distinct
//! customers), and the answer's `method` says which.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::config::Env;
use crate::db::{self, Client, Pool};
use crate::error::Error;

/// Days of orders a build reads, by default.
pub const DEFAULT_WINDOW_DAYS: i64 = 90;
/// The fewest baskets a pair must share to be kept, by default...
pub const DEFAULT_MIN_PAIR_COUNT: i64 = 2;
/// ...or this share of the window's baskets, when that is more (per mille: 1 in 1000).
pub const DEFAULT_MIN_SUPPORT_PER_MILLE: i64 = 1;

/// Recommendations answered: default and largest `limit`.
pub const DEFAULT_LIMIT: i64 = 10;
pub const MAX_LIMIT: i64 = 50;

/// How a build chooses its baskets and pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `RECOMMENDATIONS_WINDOW_DAYS` (1..=730, default 90).
    pub window_days: i64,
    /// `RECOMMENDATIONS_MIN_PAIR_COUNT` (≥ 1, default 2).
    pub min_pair_count: i64,
    /// `RECOMMENDATIONS_MIN_SUPPORT_PER_MILLE` (0..=1000, default 1).
    pub min_support_per_mille: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            window_days: DEFAULT_WINDOW_DAYS,
            min_pair_count: DEFAULT_MIN_PAIR_COUNT,
            min_support_per_mille: DEFAULT_MIN_SUPPORT_PER_MILLE,
        }
    }
}

impl Settings {
    /// From the environment; a value that does not parse or is out of range is an error (a
    /// misconfigured job should fail loudly, not build with a guess).
    pub fn from_env(env: &Env<'_>) -> Result<Self, Error> {
        let read = |var: &str, default: i64, low: i64, high: i64| -> Result<i64, Error> {
            let value: i64 = env.or(var, default).map_err(Error::internal)?;
            if (low..=high).contains(&value) {
                Ok(value)
            } else {
                Err(Error::internal(std::io::Error::other(format!(
                    "{var}={value} is out of range {low}..={high}"
                ))))
            }
        };
        Ok(Self {
            window_days: read("RECOMMENDATIONS_WINDOW_DAYS", DEFAULT_WINDOW_DAYS, 1, 730)?,
            min_pair_count: read(
                "RECOMMENDATIONS_MIN_PAIR_COUNT",
                DEFAULT_MIN_PAIR_COUNT,
                1,
                i64::from(i32::MAX),
            )?,
            min_support_per_mille: read(
                "RECOMMENDATIONS_MIN_SUPPORT_PER_MILLE",
                DEFAULT_MIN_SUPPORT_PER_MILLE,
                0,
                1000,
            )?,
        })
    }

    /// The fewest shared baskets a pair needs among `baskets`: the larger of
    /// `min_pair_count` and ⌈baskets · per mille / 1000⌉.
    pub fn threshold(&self, baskets: i64) -> i64 {
        let share = (baskets.max(0) * self.min_support_per_mille + 999) / 1000;
        self.min_pair_count.max(share)
    }
}

/// Support, confidence and lift of a pair seen in `pair` of `baskets` baskets, whose
/// antecedent is in `antecedent` and consequent in `consequent` of them. The build computes
/// the same in SQL (as float8 from the integer counts, one division each, so the two agree
/// to the bit).
#[allow(clippy::cast_precision_loss)] // basket counts are far below 2^52
pub fn measures(pair: i64, antecedent: i64, consequent: i64, baskets: i64) -> (f64, f64, f64) {
    if pair <= 0 || antecedent <= 0 || consequent <= 0 || baskets <= 0 {
        return (0.0, 0.0, 0.0);
    }
    let support = pair as f64 / baskets as f64;
    let confidence = pair as f64 / antecedent as f64;
    let lift = (pair as f64 * baskets as f64) / (antecedent as f64 * consequent as f64);
    (support, confidence, lift)
}

/// Rounds a measure for an answer: six decimals.
pub fn rounded(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// What one tenant's build did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub baskets: i64,
    pub products: i64,
    pub pairs: i64,
    pub min_pair_count: i64,
}

/// Locks the tenant's build row (creating it on the first build): builds of one tenant take
/// turns, and the row says what the current set was built from.
const LOCK_BUILD: &str = "INSERT INTO analytics.recommendation_builds AS b (tenant_id)
     VALUES ($1)
     ON CONFLICT (tenant_id) DO UPDATE SET tenant_id = b.tenant_id
     RETURNING b.runs";

/// The window's baskets (distinct products of its sales), materialised for the statements
/// of one build. `$1` window start, `$2` window end.
const BASKETS: &str = "CREATE TEMPORARY TABLE recommendation_baskets ON COMMIT DROP AS
     SELECT DISTINCT li.order_id, li.product_id, o.customer_id
     FROM sales.orders o
     JOIN sales.order_lines li ON li.order_id = o.id
     WHERE o.status IN ('placed', 'completed')
       AND o.ordered_at >= $1 AND o.ordered_at < $2";

/// Rebuilds `tenant`'s pairs and product counts from the window ending `now`, in one
/// transaction holding the tenant's build lock: readers see the old set until it commits.
pub async fn build(
    pool: &Pool,
    tenant: Uuid,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Outcome, Error> {
    let from = now - TimeDelta::days(settings.window_days);
    let window_days = i32::try_from(settings.window_days).unwrap_or(i32::MAX);
    let mut client = pool.get().await?;
    let tx = db::tenant_tx(&mut client, tenant).await?;
    tx.query_one(LOCK_BUILD, &[&tenant]).await?;
    tx.execute(BASKETS, &[&from, &now]).await?;
    let baskets: i64 = tx
        .query_one(
            "SELECT count(DISTINCT order_id) FROM recommendation_baskets",
            &[],
        )
        .await?
        .try_get(0)?;
    let threshold = settings.threshold(baskets);
    tx.execute(
        "DELETE FROM analytics.product_pairs WHERE tenant_id = $1",
        &[&tenant],
    )
    .await?;
    tx.execute(
        "DELETE FROM analytics.product_baskets WHERE tenant_id = $1",
        &[&tenant],
    )
    .await?;
    let products = tx
        .execute(
            "INSERT INTO analytics.product_baskets
                    (tenant_id, product_id, basket_count, customer_count)
             SELECT $1, product_id, count(*), count(DISTINCT customer_id)
             FROM recommendation_baskets
             GROUP BY product_id",
            &[&tenant],
        )
        .await?;
    let pairs = tx
        .execute(
            "WITH pairs AS (
                 SELECT a.product_id AS antecedent, b.product_id AS consequent,
                        count(*)::int8 AS pair_count
                 FROM recommendation_baskets a
                 JOIN recommendation_baskets b
                   ON b.order_id = a.order_id AND b.product_id <> a.product_id
                 GROUP BY 1, 2
                 HAVING count(*) >= $2
             )
             INSERT INTO analytics.product_pairs
                    (tenant_id, antecedent_id, consequent_id, pair_count, antecedent_count,
                     consequent_count, basket_count, support, confidence, lift, window_days,
                     window_from, window_to, built_at)
             SELECT $1, p.antecedent, p.consequent, p.pair_count, a.basket_count,
                    c.basket_count, $3::int8,
                    p.pair_count::float8 / $3::int8::float8,
                    p.pair_count::float8 / a.basket_count::float8,
                    (p.pair_count::float8 * $3::int8::float8)
                        / (a.basket_count::float8 * c.basket_count::float8),
                    $4, $5, $6, now()
             FROM pairs p
             JOIN analytics.product_baskets a ON a.product_id = p.antecedent
             JOIN analytics.product_baskets c ON c.product_id = p.consequent",
            &[&tenant, &threshold, &baskets, &window_days, &from, &now],
        )
        .await?;
    let products = i64::try_from(products).unwrap_or(i64::MAX);
    let pairs = i64::try_from(pairs).unwrap_or(i64::MAX);
    tx.execute(
        "UPDATE analytics.recommendation_builds
         SET window_days = $2, window_from = $3, window_to = $4, min_pair_count = $5,
             basket_count = $6, product_count = $7, pair_count = $8, built_at = now(),
             runs = runs + 1
         WHERE tenant_id = $1",
        &[
            &tenant,
            &window_days,
            &from,
            &now,
            &threshold,
            &baskets,
            &products,
            &pairs,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(Outcome {
        baskets,
        products,
        pairs,
        min_pair_count: threshold,
    })
}

/// What a product's companions are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    Lift,
    Confidence,
}

impl RankBy {
    /// `lift` (default) or `confidence`, else 422 `invalid_by`.
    pub fn parse(value: Option<&str>) -> Result<Self, Error> {
        match value.unwrap_or("lift") {
            "lift" => Ok(Self::Lift),
            "confidence" => Ok(Self::Confidence),
            _ => Err(
                Error::unprocessable("invalid_by", "`by` is lift or confidence.")
                    .with_extension("field", "by"),
            ),
        }
    }

    fn order_by(self) -> &'static str {
        match self {
            Self::Lift => "p.lift DESC, p.confidence DESC, p.pair_count DESC, p.consequent_id",
            Self::Confidence => {
                "p.confidence DESC, p.lift DESC, p.pair_count DESC, p.consequent_id"
            }
        }
    }
}

/// A `limit`: [`DEFAULT_LIMIT`] when absent, else 1..=[`MAX_LIMIT`] or 422 `invalid_limit`.
pub fn limit(value: Option<i64>) -> Result<i64, Error> {
    let limit = value.unwrap_or(DEFAULT_LIMIT);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::unprocessable(
            "invalid_limit",
            format!("`limit` must be between 1 and {MAX_LIMIT}."),
        )
        .with_extension("field", "limit"))
    }
}

/// The recommendation tables summarise every location of the tenant: a principal restricted
/// to some locations may not read them (403 `location_denied`, naming no location).
pub fn require_every_location(principal: &crate::auth::Principal) -> Result<(), Error> {
    if principal.locations.is_none() {
        return Ok(());
    }
    Err(Error::forbidden(
        crate::auth::codes::LOCATION_DENIED,
        "Recommendations summarise every location of the tenant: they need access to all \
         of them.",
    ))
}

/// What the current set was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Built {
    pub built_at: DateTime<Utc>,
    pub window_days: i32,
    pub window_from: DateTime<Utc>,
    pub window_to: DateTime<Utc>,
    pub basket_count: i64,
    /// The fewest shared baskets a pair needed to be kept.
    pub min_pair_count: i64,
}

/// A product bought with the asked one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Companion {
    pub rank: i64,
    pub product_id: Uuid,
    pub product_name: String,
    /// Baskets holding both.
    pub pair_count: i64,
    /// Baskets holding the asked product.
    pub antecedent_count: i64,
    /// Baskets holding this one.
    pub consequent_count: i64,
    pub basket_count: i64,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
}

/// `GET /v1/analytics/recommendations/products/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductRecommendations {
    pub product_id: Uuid,
    pub product_name: String,
    pub by: RankBy,
    pub limit: i64,
    /// `null` before the tenant's first build.
    pub build: Option<Built>,
    /// Baskets of the window holding this product.
    pub basket_count: i64,
    pub items: Vec<Companion>,
}

const BUILT: &str = "SELECT built_at, window_days, window_from, window_to, basket_count,
            min_pair_count
     FROM analytics.recommendation_builds
     WHERE built_at IS NOT NULL";

fn built(rows: &[tokio_postgres::Row]) -> Result<Option<Built>, Error> {
    rows.first()
        .map(|row| {
            Ok(Built {
                built_at: row.try_get(0)?,
                window_days: row.try_get(1)?,
                window_from: row.try_get(2)?,
                window_to: row.try_get(3)?,
                basket_count: row.try_get(4)?,
                min_pair_count: row.try_get(5)?,
            })
        })
        .transpose()
}

/// Whether the product aliased `p` may be suggested: not archived, with a variant that is not
/// archived.
fn suggestable(p: &str) -> String {
    format!(
        "{p}.archived_at IS NULL
         AND EXISTS (SELECT 1 FROM catalog.variants v
                     WHERE v.product_id = {p}.id AND v.archived_at IS NULL)"
    )
}

/// The top `limit` products bought with `product` by `by`; 404 when the tenant has no such
/// product. Archived or unavailable companions are left out.
pub async fn for_product(
    client: &Client,
    tenant: Uuid,
    product: Uuid,
    by: RankBy,
    limit: i64,
) -> Result<ProductRecommendations, Error> {
    let product_sql = "SELECT p.name, coalesce(
                (SELECT basket_count FROM analytics.product_baskets b WHERE b.product_id = p.id),
                0)
         FROM catalog.products p WHERE p.id = $1";
    let pairs_sql = format!(
        "SELECT p.consequent_id, c.name, p.pair_count, p.antecedent_count, p.consequent_count,
                p.basket_count, p.support, p.confidence, p.lift
         FROM analytics.product_pairs p
         JOIN catalog.products c ON c.id = p.consequent_id
         WHERE p.antecedent_id = $1
           AND {suggestable}
         ORDER BY {order}
         LIMIT $2",
        suggestable = suggestable("c"),
        order = by.order_by(),
    );
    let product_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&product];
    let pairs_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&product, &limit];
    let queries: [(&str, db::Params<'_>); 3] = [
        (product_sql, &product_params),
        (pairs_sql.as_str(), &pairs_params),
        (BUILT, &[]),
    ];
    let found = db::tenant_read(client, tenant, &queries).await?;
    let [named, pairs, build] = found.as_slice() else {
        return Err(Error::internal(
            "the product recommendations read answered no rows",
        ));
    };
    let Some(named) = named.first() else {
        return Err(Error::not_found("No such product."));
    };
    let items = pairs
        .iter()
        .zip(1..)
        .map(|(row, rank)| {
            Ok(Companion {
                rank,
                product_id: row.try_get(0)?,
                product_name: row.try_get(1)?,
                pair_count: row.try_get(2)?,
                antecedent_count: row.try_get(3)?,
                consequent_count: row.try_get(4)?,
                basket_count: row.try_get(5)?,
                support: rounded(row.try_get(6)?),
                confidence: rounded(row.try_get(7)?),
                lift: rounded(row.try_get(8)?),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(ProductRecommendations {
        product_id: product,
        product_name: named.try_get(0)?,
        by,
        limit,
        build: built(build)?,
        basket_count: named.try_get(1)?,
        items,
    })
}

/// How a customer's suggestions were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Item-based collaborative filtering over the co-occurrence pairs.
    ItemBasedCooccurrence,
    /// The window's most popular products (the customer's history gave nothing to go on).
    MostPopular,
}

/// Why the popular fallback was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// The customer has no placed or completed order.
    NoHistory,
    /// What the customer bought has no positively associated product left to suggest.
    NoAssociations,
    /// The customer has bought every product of the window's baskets that is still on sale:
    /// nothing is left to suggest (`items` is empty).
    AllBought,
}

/// A product suggested to a customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub rank: i64,
    pub product_id: Uuid,
    pub product_name: String,
    /// Item-based: Σ confidence(bought → this) over the products it was reached from; most
    /// popular: the share of the window's baskets holding it.
    pub score: f64,
    /// Item-based: the customer's products that led here, strongest first (at most 3).
    pub because_of: Vec<Uuid>,
    /// Baskets of the window holding this product.
    pub basket_count: i64,
}

/// `GET /v1/analytics/recommendations/customers/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerRecommendations {
    pub customer_id: Uuid,
    pub method: Method,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
    pub limit: i64,
    pub build: Option<Built>,
    /// Distinct products the customer has bought (placed or completed orders, any time).
    pub purchased_product_count: i64,
    pub items: Vec<Suggestion>,
}

/// The live customer (`$1`, or the survivor it was merged into) and the products it bought in
/// placed or completed orders, any time: the opening CTEs of the customer reads.
const LIVE_AND_BOUGHT: &str = "WITH live AS (
         SELECT coalesce(merged_into, id) AS id FROM customer.customers WHERE id = $1
     ),
     bought AS (
         SELECT DISTINCT li.product_id
         FROM sales.orders o
         JOIN sales.order_lines li ON li.order_id = o.id
         WHERE o.customer_id = (SELECT id FROM live) AND o.status IN ('placed', 'completed')
     )";

/// Suggestions for `customer` (a merged duplicate answers for its survivor); 404 when the
/// tenant has no such customer.
pub async fn for_customer(
    client: &Client,
    tenant: Uuid,
    customer: Uuid,
    limit: i64,
) -> Result<CustomerRecommendations, Error> {
    let customer_sql =
        format!("{LIVE_AND_BOUGHT} SELECT l.id, (SELECT count(*) FROM bought)::int8 FROM live l");
    let scored_sql = format!(
        "{LIVE_AND_BOUGHT},
         reached AS (
             SELECT x.consequent_id, x.antecedent_id, x.confidence
             FROM analytics.product_pairs x
             JOIN bought b ON b.product_id = x.antecedent_id
             WHERE x.lift > 1
               AND x.consequent_id NOT IN (SELECT product_id FROM bought)
         ),
         scored AS (
             SELECT consequent_id, sum(confidence) AS score,
                    (array_agg(antecedent_id ORDER BY confidence DESC, antecedent_id))[1:3]
                        AS because_of
             FROM reached
             GROUP BY consequent_id
         )
         SELECT s.consequent_id, p.name, s.score, s.because_of,
                coalesce(pb.basket_count, 0)
         FROM scored s
         JOIN catalog.products p ON p.id = s.consequent_id
         LEFT JOIN analytics.product_baskets pb ON pb.product_id = s.consequent_id
         WHERE {live_product}
         ORDER BY s.score DESC, pb.basket_count DESC NULLS LAST, s.consequent_id
         LIMIT $2",
        live_product = suggestable("p"),
    );
    let popular_sql = format!(
        "{LIVE_AND_BOUGHT}
         SELECT pb.product_id, p.name,
                pb.basket_count::float8 / nullif(b.basket_count, 0)::float8,
                pb.basket_count
         FROM analytics.product_baskets pb
         JOIN catalog.products p ON p.id = pb.product_id
         CROSS JOIN analytics.recommendation_builds b
         WHERE pb.product_id NOT IN (SELECT product_id FROM bought)
           AND {live_product}
         ORDER BY pb.basket_count DESC, pb.customer_count DESC, pb.product_id
         LIMIT $2",
        live_product = suggestable("p"),
    );
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&customer, &limit];
    let one: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&customer];
    let queries: [(&str, db::Params<'_>); 4] = [
        (customer_sql.as_str(), &one),
        (scored_sql.as_str(), &params),
        (popular_sql.as_str(), &params),
        (BUILT, &[]),
    ];
    let found = db::tenant_read(client, tenant, &queries).await?;
    let [named, scored, popular, build] = found.as_slice() else {
        return Err(Error::internal(
            "the customer recommendations read answered no rows",
        ));
    };
    let Some(named) = named.first() else {
        return Err(Error::not_found("No such customer."));
    };
    let live: Uuid = named.try_get(0)?;
    let purchased: i64 = named.try_get(1)?;
    let (method, fallback, rows) = if !scored.is_empty() {
        (Method::ItemBasedCooccurrence, None, scored)
    } else if purchased == 0 {
        (Method::MostPopular, Some(Fallback::NoHistory), popular)
    } else if popular.is_empty() {
        (Method::MostPopular, Some(Fallback::AllBought), popular)
    } else {
        (Method::MostPopular, Some(Fallback::NoAssociations), popular)
    };
    let items = rows
        .iter()
        .zip(1..)
        .map(|(row, rank)| {
            let (score, because_of, basket_count) = match method {
                Method::ItemBasedCooccurrence => (
                    row.try_get::<_, f64>(2)?,
                    row.try_get::<_, Vec<Uuid>>(3)?,
                    row.try_get(4)?,
                ),
                Method::MostPopular => (
                    row.try_get::<_, Option<f64>>(2)?.unwrap_or(0.0),
                    Vec::new(),
                    row.try_get(3)?,
                ),
            };
            Ok(Suggestion {
                rank,
                product_id: row.try_get(0)?,
                product_name: row.try_get(1)?,
                score: rounded(score),
                because_of,
                basket_count,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(CustomerRecommendations {
        customer_id: live,
        method,
        fallback,
        limit,
        build: built(build)?,
        purchased_product_count: purchased,
        items,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn measures_of_a_hand_counted_basket_set() {
        // Five baskets: {A,B}, {A,B,C}, {A,C}, {B}, {C}. n(A)=3, n(B)=3, n(C)=3, n(A∧B)=2.
        let (support, confidence, lift) = measures(2, 3, 3, 5);
        assert_eq!(support, 0.4);
        assert_eq!(rounded(confidence), 0.666_667);
        assert_eq!(rounded(lift), 1.111_111); // (2/3) / (3/5) = 10/9
        // A pair in every basket of its antecedent, a rare consequent: confidence 1, lift 5.
        assert_eq!(measures(1, 1, 1, 5), (0.2, 1.0, 5.0));
        assert_eq!(measures(0, 3, 3, 5), (0.0, 0.0, 0.0));
        assert_eq!(measures(1, 1, 1, 0), (0.0, 0.0, 0.0));
    }

    #[test]
    fn the_threshold_scales_with_the_baskets() {
        let settings = Settings::default();
        assert_eq!(settings.threshold(0), 2);
        assert_eq!(settings.threshold(6), 2);
        assert_eq!(settings.threshold(2000), 2);
        assert_eq!(settings.threshold(2001), 3);
        assert_eq!(settings.threshold(4500), 5);
        let strict = Settings {
            min_pair_count: 1,
            min_support_per_mille: 10,
            ..Settings::default()
        };
        assert_eq!(strict.threshold(50), 1);
        assert_eq!(strict.threshold(250), 3);
    }

    #[test]
    fn settings_come_from_the_environment_and_are_range_checked() {
        let env = |pairs: &[(&str, &str)]| {
            let map: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            Settings::from_env(&Env::from_fn(move |k| map.get(k).cloned()))
        };
        assert_eq!(env(&[]).unwrap(), Settings::default());
        assert_eq!(
            env(&[
                ("RECOMMENDATIONS_WINDOW_DAYS", "30"),
                ("RECOMMENDATIONS_MIN_PAIR_COUNT", "5"),
                ("RECOMMENDATIONS_MIN_SUPPORT_PER_MILLE", "0"),
            ])
            .unwrap(),
            Settings {
                window_days: 30,
                min_pair_count: 5,
                min_support_per_mille: 0
            }
        );
        assert!(env(&[("RECOMMENDATIONS_WINDOW_DAYS", "0")]).is_err());
        assert!(env(&[("RECOMMENDATIONS_WINDOW_DAYS", "ninety")]).is_err());
        assert!(env(&[("RECOMMENDATIONS_MIN_PAIR_COUNT", "0")]).is_err());
        assert!(env(&[("RECOMMENDATIONS_MIN_SUPPORT_PER_MILLE", "1001")]).is_err());
    }

    #[test]
    fn query_words_have_their_own_codes() {
        assert_eq!(RankBy::parse(None).unwrap(), RankBy::Lift);
        assert_eq!(
            RankBy::parse(Some("confidence")).unwrap(),
            RankBy::Confidence
        );
        assert_eq!(
            RankBy::parse(Some("support")).unwrap_err().code(),
            "invalid_by"
        );
        assert_eq!(limit(None).unwrap(), 10);
        assert_eq!(limit(Some(50)).unwrap(), 50);
        assert_eq!(limit(Some(0)).unwrap_err().code(), "invalid_limit");
        assert_eq!(limit(Some(51)).unwrap_err().code(), "invalid_limit");
    }
}
