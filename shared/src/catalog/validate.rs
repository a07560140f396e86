//! Validation of catalog fields. Every failure is a 422 with a specific `code` and the
//! offending `field` as an extension member; names use [`crate::tenants::validate::name`].

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::error::Error;

pub use crate::tenants::validate::name;

/// Most options a product may have, and values an option may have.
pub const MAX_OPTIONS: usize = 3;
pub const MAX_OPTION_VALUES: usize = 100;
/// Most tags (dietary tags, allergens) and image URLs on a product.
pub const MAX_TAGS: usize = 30;
pub const MAX_IMAGES: usize = 10;
/// Largest price or cost, in minor units (a billion major units).
pub const MAX_MONEY_MINOR: i64 = 100_000_000_000;

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

/// A price or cost in minor units: 0 to [`MAX_MONEY_MINOR`] (422 `invalid_price`).
pub fn money(field: &str, value: i64) -> Result<i64, Error> {
    if (0..=MAX_MONEY_MINOR).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            "invalid_price",
            field,
            format!("`{field}` must be between 0 and {MAX_MONEY_MINOR} minor units."),
        ))
    }
}

/// A modifier's price delta: may be 0 or negative, bounded like a price
/// (422 `invalid_price`).
pub fn price_delta(field: &str, value: i64) -> Result<i64, Error> {
    if (-MAX_MONEY_MINOR..=MAX_MONEY_MINOR).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            "invalid_price",
            field,
            format!("`{field}` must be between -{MAX_MONEY_MINOR} and {MAX_MONEY_MINOR}."),
        ))
    }
}

/// A key: `[a-z0-9][a-z0-9_-]{0,62}` (tax categories, tags) — `code` names the failure.
pub fn key(code: &'static str, field: &str, value: &str) -> Result<String, Error> {
    let bytes = value.as_bytes();
    let ok = (1..=63).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            code,
            field,
            format!("`{field}` must be 1 to 63 characters of a-z, 0-9, '_' and '-'."),
        ))
    }
}

/// A tax category key (422 `invalid_tax_category`).
pub fn tax_category(value: &str) -> Result<String, Error> {
    key("invalid_tax_category", "tax_category", value)
}

/// A list of tag keys (dietary tags, allergens): lower-cased, de-duplicated, sorted, at most
/// [`MAX_TAGS`] (422 `invalid_tags`).
pub fn tags(field: &str, values: &[String]) -> Result<Vec<String>, Error> {
    if values.len() > MAX_TAGS {
        return Err(invalid(
            "invalid_tags",
            field,
            format!("`{field}` holds at most {MAX_TAGS} tags."),
        ));
    }
    let mut set = BTreeSet::new();
    for value in values {
        set.insert(key("invalid_tags", field, &value.trim().to_lowercase())?);
    }
    Ok(set.into_iter().collect())
}

/// Image URLs: absolute `https` (or `http`) URLs, at most [`MAX_IMAGES`], 2048 bytes each
/// (422 `invalid_image_url`).
pub fn image_urls(values: &[String]) -> Result<Vec<String>, Error> {
    let bad = |detail: String| invalid("invalid_image_url", "image_urls", detail);
    if values.len() > MAX_IMAGES {
        return Err(bad(format!("At most {MAX_IMAGES} image URLs.")));
    }
    values
        .iter()
        .map(|value| {
            let value = value.trim();
            let parsed = url::Url::parse(value)
                .map_err(|_| bad(format!("{value:?} is not an absolute URL.")))?;
            if !matches!(parsed.scheme(), "https" | "http") || value.len() > 2048 {
                return Err(bad(format!(
                    "{value:?} must be an http(s) URL of at most 2048 bytes."
                )));
            }
            Ok(value.to_owned())
        })
        .collect()
}

/// A SKU: 1 to 64 printable characters without spaces at the ends (422 `invalid_sku`).
pub fn sku(value: &str) -> Result<String, Error> {
    let value = value.trim();
    if value.is_empty() || value.len() > 64 || value.chars().any(char::is_control) {
        return Err(invalid(
            "invalid_sku",
            "sku",
            "`sku` must be 1 to 64 characters without control characters.",
        ));
    }
    Ok(value.to_owned())
}

/// A barcode (EAN, UPC, Code 128 text): 4 to 64 of `[0-9A-Za-z-]`, and a valid check digit
/// when it is all digits of EAN-8, UPC-A or EAN-13 length (422 `invalid_barcode`).
pub fn barcode(value: &str) -> Result<String, Error> {
    let value = value.trim();
    let bad = || {
        invalid(
            "invalid_barcode",
            "barcode",
            "`barcode` must be 4 to 64 of 0-9, A-Z, a-z and '-', with a valid check digit for \
             EAN-8, UPC-A and EAN-13.",
        )
    };
    if !(4..=64).contains(&value.len())
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(bad());
    }
    if value.bytes().all(|b| b.is_ascii_digit()) && matches!(value.len(), 8 | 12 | 13) {
        let digits: Vec<u32> = value.bytes().map(|b| u32::from(b - b'0')).collect();
        let (body, check) = digits.split_at(digits.len() - 1);
        // GS1: weights 3,1,3,... from the digit next to the check digit.
        let sum: u32 = body
            .iter()
            .rev()
            .enumerate()
            .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
            .sum();
        if (10 - sum % 10) % 10 != check[0] {
            return Err(bad());
        }
    }
    Ok(value.to_owned())
}

/// A product's options: `[{"name": "Size", "values": ["S", "M", "L"]}]`, at most
/// [`MAX_OPTIONS`] with distinct names, each with 1 to [`MAX_OPTION_VALUES`] distinct values
/// (422 `invalid_options`). Returns the normalised list (names and values trimmed).
pub fn options(value: &Value) -> Result<Vec<(String, Vec<String>)>, Error> {
    let bad = |detail: &str| invalid("invalid_options", "options", detail.to_owned());
    let Some(items) = value.as_array() else {
        return Err(bad(
            "`options` must be an array of {\"name\", \"values\"} objects.",
        ));
    };
    if items.len() > MAX_OPTIONS {
        return Err(bad("A product has at most 3 options."));
    }
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.len() <= 100)
            .ok_or_else(|| bad("Every option needs a `name` of 1 to 100 characters."))?;
        if out.iter().any(|(n, _)| n == name) {
            return Err(bad("Option names must be distinct."));
        }
        let values = item
            .get("values")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("Every option needs `values`, an array of strings."))?;
        let mut seen = Vec::new();
        for value in values {
            let value = value
                .as_str()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= 100)
                .ok_or_else(|| bad("Option values are strings of 1 to 100 characters."))?;
            if seen.iter().any(|v: &String| v == value) {
                return Err(bad("An option's values must be distinct."));
            }
            seen.push(value.to_owned());
        }
        if seen.is_empty() || seen.len() > MAX_OPTION_VALUES {
            return Err(bad("An option has 1 to 100 values."));
        }
        out.push((name.to_owned(), seen));
    }
    Ok(out)
}

/// The JSON form of validated options.
pub fn options_json(options: &[(String, Vec<String>)]) -> Value {
    Value::Array(
        options
            .iter()
            .map(|(name, values)| serde_json::json!({"name": name, "values": values}))
            .collect(),
    )
}

/// A variant's `option_values` against its product's options: exactly one listed value per
/// option (422 `invalid_option_values`). A product without options takes `{}`.
pub fn option_values(
    options: &[(String, Vec<String>)],
    value: &Value,
) -> Result<BTreeMap<String, String>, Error> {
    let bad = |detail: String| invalid("invalid_option_values", "option_values", detail);
    let empty = Map::new();
    let object = match value {
        Value::Null => &empty,
        Value::Object(object) => object,
        _ => return Err(bad("`option_values` must be an object.".to_owned())),
    };
    let mut out = BTreeMap::new();
    for (name, values) in options {
        let chosen = object
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .ok_or_else(|| bad(format!("`option_values` needs a value for {name:?}.")))?;
        if !values.iter().any(|v| v == chosen) {
            return Err(bad(format!(
                "{chosen:?} is not a value of option {name:?} ({}).",
                values.join(", ")
            )));
        }
        out.insert(name.clone(), chosen.to_owned());
    }
    if let Some(extra) = object
        .keys()
        .find(|k| !options.iter().any(|(n, _)| n == *k))
    {
        return Err(bad(format!("The product has no option {extra:?}.")));
    }
    Ok(out)
}

/// An external (import) key: 1 to 200 characters (422 `invalid_key`).
pub fn external_key(value: &str) -> Result<String, Error> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 200 || value.chars().any(char::is_control) {
        return Err(invalid(
            "invalid_key",
            "key",
            "`key` must be 1 to 200 characters without control characters.",
        ));
    }
    Ok(value.to_owned())
}

/// A short free text (descriptions): at most `max` characters (422 `invalid_text`).
pub fn text(field: &str, value: &str, max: usize) -> Result<String, Error> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(invalid(
            "invalid_text",
            field,
            format!("`{field}` holds at most {max} characters."),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn barcodes_check_gs1_digits() {
        assert!(barcode("4006381333931").is_ok()); // EAN-13
        assert!(barcode("036000291452").is_ok()); // UPC-A
        assert!(barcode("96385074").is_ok()); // EAN-8
        assert_eq!(
            barcode("4006381333932").unwrap_err().code(),
            "invalid_barcode"
        );
        assert!(barcode("ABC-123").is_ok());
        assert!(barcode("a b").is_err());
    }

    #[test]
    fn options_and_option_values_agree() {
        let options = options(&json!([{"name": "Size", "values": ["S", "M", "L"]},
                                      {"name": "Milk", "values": ["Whole", "Oat"]}]))
        .unwrap();
        let values = option_values(&options, &json!({"Size": "M", "Milk": "Oat"})).unwrap();
        assert_eq!(values["Size"], "M");
        for bad in [
            json!({"Size": "XL", "Milk": "Oat"}),
            json!({"Size": "M"}),
            json!({"Size": "M", "Milk": "Oat", "Shots": "2"}),
            json!("M"),
        ] {
            assert_eq!(
                option_values(&options, &bad).unwrap_err().code(),
                "invalid_option_values",
                "{bad}"
            );
        }
        assert!(option_values(&[], &json!({})).unwrap().is_empty());
        for bad in [
            json!({}),
            json!([{"name": "Size", "values": []}]),
            json!([{"name": "Size", "values": ["S", "S"]}]),
            json!([{"name": "A", "values": ["1"]}, {"name": "A", "values": ["2"]}]),
            json!([{"name": "A", "values": ["1"]}, {"name": "B", "values": ["1"]},
                   {"name": "C", "values": ["1"]}, {"name": "D", "values": ["1"]}]),
        ] {
            assert_eq!(
                super::options(&bad).unwrap_err().code(),
                "invalid_options",
                "{bad}"
            );
        }
    }

    #[test]
    fn tags_are_normalised_keys() {
        let tags = tags(
            "dietary_tags",
            &["Vegan".into(), "gluten-free".into(), "vegan".into()],
        )
        .unwrap();
        assert_eq!(tags, vec!["gluten-free", "vegan"]);
        assert_eq!(
            super::tags("allergens", &["nuts!".into()])
                .unwrap_err()
                .code(),
            "invalid_tags"
        );
    }

    #[test]
    fn money_and_urls_are_bounded() {
        assert_eq!(
            money("price_minor", -1).unwrap_err().code(),
            "invalid_price"
        );
        assert_eq!(price_delta("price_delta_minor", -150).unwrap(), -150);
        assert!(image_urls(&["https://cdn.example/a.png".into()]).is_ok());
        assert_eq!(
            image_urls(&["ftp://x/a.png".into()]).unwrap_err().code(),
            "invalid_image_url"
        );
        assert_eq!(
            image_urls(&["not a url".into()]).unwrap_err().code(),
            "invalid_image_url"
        );
    }
}
