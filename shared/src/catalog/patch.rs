//! Pieces the product and variant `PATCH`/`POST` functions share: telling an absent field
//! from an explicit `null` (`null` clears, absent keeps), the rule that two live variants of
//! one product never name the same option values, and `If-Match` when it is optional.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, header};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::db::Transaction;
use crate::error::Error;
use crate::http::versioning::expected_version;

/// For `#[serde(default, deserialize_with = "nullable")]` on an `Option<Option<T>>` field:
/// absent is `None` (unchanged), `null` is `Some(None)` (cleared), a value is `Some(Some(v))`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The version `If-Match` names when the header is sent; `None` without it (for requests
/// where the precondition is optional, like archiving).
pub fn optional_expected_version(
    headers: &HeaderMap,
    resource: &str,
) -> Result<Option<i32>, Error> {
    if headers.contains_key(header::IF_MATCH) {
        expected_version(headers, resource).map(Some)
    } else {
        Ok(None)
    }
}

/// 422 `duplicate_variant` when a live variant of `product_id` other than `except` already
/// has `option_values`. The caller holds the product's row lock, so two concurrent requests
/// cannot both pass.
pub async fn ensure_unique_option_values(
    tx: &Transaction<'_>,
    product_id: Uuid,
    option_values: &BTreeMap<String, String>,
    except: Option<Uuid>,
) -> Result<(), Error> {
    let values = json!(option_values);
    let clash = tx
        .query_opt(
            "SELECT id FROM catalog.variants
             WHERE product_id = $1 AND archived_at IS NULL AND option_values = $2
               AND ($3::uuid IS NULL OR id <> $3)
             LIMIT 1",
            &[&product_id, &values, &except],
        )
        .await?;
    match clash {
        None => Ok(()),
        Some(row) => {
            let other: Uuid = row.try_get(0)?;
            Err(Error::unprocessable(
                "duplicate_variant",
                format!("Variant {other} already has the option values {values}."),
            )
            .with_extension("field", "option_values")
            .with_extension("variant_id", other.to_string()))
        }
    }
}

/// The product's stored options as a validated list (stored options were validated on the
/// way in; a row that no longer parses is a server fault, not the client's).
pub fn stored_options(options: &Value) -> Result<Vec<(String, Vec<String>)>, Error> {
    if options.as_array().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    super::validate::options(options).map_err(|e| {
        Error::internal(std::io::Error::other(format!(
            "stored product options do not validate: {}",
            e.code()
        )))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "nullable")]
        sku: Option<Option<String>>,
    }

    #[test]
    fn absent_null_and_value_differ() {
        let body = |v: Value| serde_json::from_value::<Body>(v).unwrap().sku;
        assert_eq!(body(json!({})), None);
        assert_eq!(body(json!({"sku": null})), Some(None));
        assert_eq!(body(json!({"sku": "A-1"})), Some(Some("A-1".to_owned())));
    }

    #[test]
    fn stored_options_parse_and_empty_is_none() {
        assert!(stored_options(&json!([])).unwrap().is_empty());
        let options = stored_options(&json!([{"name": "Size", "values": ["S", "M"]}])).unwrap();
        assert_eq!(options[0].1, ["S", "M"]);
        assert_eq!(stored_options(&json!({})).unwrap_err().status(), 500);
    }
}
