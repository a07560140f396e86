//! Validation of tenant and location profile fields. Every failure is a 422 with a specific
//! `code` and the offending `field` as an extension member.

use std::str::FromStr;

use crate::error::Error;
use crate::plans::Plan;
use serde_json::Value;

/// The industries a tenant may declare (the `platform.tenants.industry` check).
pub const INDUSTRIES: &[&str] = &[
    "restaurant",
    "retail",
    "salon",
    "hospitality",
    "events",
    "other",
];

/// Longest display name, in characters (the tables' `length(name)` checks).
pub const MAX_NAME_CHARS: usize = 200;
/// Largest `settings` / `branding` object, serialized.
pub const MAX_OBJECT_BYTES: usize = 16 * 1024;

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

/// A display name: trimmed, 1 to 200 characters, no control characters.
pub fn name(field: &str, value: &str) -> Result<String, Error> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || value.chars().any(char::is_control) {
        return Err(invalid(
            "invalid_name",
            field,
            format!(
                "`{field}` must be 1 to {MAX_NAME_CHARS} characters without control characters."
            ),
        ));
    }
    Ok(value.to_owned())
}

/// A slug: `[a-z0-9][a-z0-9-]{1,62}` (2 to 63 characters), exactly as sent.
pub fn slug(value: &str) -> Result<String, Error> {
    let bytes = value.as_bytes();
    let ok = (2..=63).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if !ok {
        return Err(invalid(
            "invalid_slug",
            "slug",
            "`slug` must be 2 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit.",
        ));
    }
    Ok(value.to_owned())
}

pub fn industry(value: &str) -> Result<String, Error> {
    if INDUSTRIES.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "invalid_industry",
            "industry",
            format!("`industry` must be one of {}.", INDUSTRIES.join(", ")),
        ))
    }
}

/// An ISO 4217 alphabetic code: three uppercase ASCII letters.
pub fn currency(field: &str, value: &str) -> Result<String, Error> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "invalid_currency",
            field,
            format!("`{field}` must be an ISO 4217 code such as USD or EUR."),
        ))
    }
}

/// An IANA time zone name known to the tz database (`Europe/Paris`, `UTC`).
pub fn time_zone(field: &str, value: &str) -> Result<String, Error> {
    match chrono_tz::Tz::from_str(value) {
        Ok(tz) => Ok(tz.name().to_owned()),
        Err(_) => Err(invalid(
            "invalid_time_zone",
            field,
            format!("`{field}` must be an IANA time zone such as Europe/Paris."),
        )),
    }
}

pub fn plan(value: &str) -> Result<Plan, Error> {
    Plan::parse(value).ok_or_else(|| {
        invalid(
            "invalid_plan",
            "plan",
            "`plan` must be one of free, starter, pro, enterprise.",
        )
    })
}

/// An e-mail address, trimmed and lower-cased: one `@`, a non-empty local part of at most 64
/// bytes, a dotted domain, no spaces or control characters, at most 254 bytes in all.
pub fn email(value: &str) -> Result<String, Error> {
    let email = value.trim().to_lowercase();
    let well_formed = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with(['.', '-'])
                && !domain.ends_with(['.', '-'])
                && !domain.contains("..")
        });
    if well_formed {
        Ok(email)
    } else {
        Err(invalid(
            "invalid_email",
            "owner.email",
            "`owner.email` must be an e-mail address such as ana@example.com.",
        ))
    }
}

/// A free-form JSON object (`settings`, `branding`) of bounded size.
pub fn object(field: &str, value: Value) -> Result<Value, Error> {
    let code = if field == "branding" {
        "invalid_branding"
    } else {
        "invalid_settings"
    };
    if !value.is_object() {
        return Err(invalid(
            code,
            field,
            format!("`{field}` must be a JSON object."),
        ));
    }
    if value.to_string().len() > MAX_OBJECT_BYTES {
        return Err(invalid(
            code,
            field,
            format!("`{field}` must be at most {MAX_OBJECT_BYTES} bytes of JSON."),
        ));
    }
    Ok(value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn code(result: Result<impl std::fmt::Debug, Error>) -> String {
        result.unwrap_err().code().to_owned()
    }

    #[test]
    fn slugs_follow_the_table_check() {
        for ok in ["ab", "joes-diner", "7eleven", "a-", &"a".repeat(63)] {
            assert_eq!(slug(ok).unwrap(), ok);
        }
        for bad in [
            "a",
            "-ab",
            "Joes",
            "joe's",
            "jo e",
            "",
            &"a".repeat(64),
            "café",
        ] {
            assert_eq!(code(slug(bad)), "invalid_slug", "{bad}");
        }
    }

    #[test]
    fn currencies_time_zones_industries_and_plans() {
        assert_eq!(currency("currency", "EUR").unwrap(), "EUR");
        for bad in ["eur", "EU", "EURO", "E1R", ""] {
            assert_eq!(code(currency("currency", bad)), "invalid_currency");
        }
        assert_eq!(
            time_zone("time_zone", "Europe/Paris").unwrap(),
            "Europe/Paris"
        );
        assert_eq!(time_zone("time_zone", "UTC").unwrap(), "UTC");
        for bad in ["Mars/Olympus_Mons", "europe/paris", "", "+02:00"] {
            assert_eq!(
                code(time_zone("time_zone", bad)),
                "invalid_time_zone",
                "{bad}"
            );
        }
        assert_eq!(industry("salon").unwrap(), "salon");
        assert_eq!(code(industry("Salon")), "invalid_industry");
        assert_eq!(plan("pro").unwrap(), Plan::Pro);
        assert_eq!(code(plan("gold")), "invalid_plan");
    }

    #[test]
    fn emails_are_trimmed_lower_cased_and_checked() {
        assert_eq!(email("  Ana@Example.COM ").unwrap(), "ana@example.com");
        for bad in [
            "ana",
            "@example.com",
            "ana@",
            "ana@example",
            "ana@@example.com",
            "a na@example.com",
            "ana@.example.com",
            "ana@example..com",
        ] {
            assert_eq!(code(email(bad)), "invalid_email", "{bad}");
        }
    }

    #[test]
    fn names_and_objects() {
        assert_eq!(name("name", "  Joe's Diner ").unwrap(), "Joe's Diner");
        assert_eq!(code(name("name", "   ")), "invalid_name");
        assert_eq!(code(name("name", &"x".repeat(201))), "invalid_name");
        assert_eq!(code(name("name", "a\u{0}b")), "invalid_name");
        assert!(object("settings", serde_json::json!({"a": 1})).is_ok());
        assert_eq!(
            code(object("settings", serde_json::json!([1]))),
            "invalid_settings"
        );
        assert_eq!(code(object("branding", Value::Null)), "invalid_branding");
        let big = serde_json::json!({ "x": "y".repeat(MAX_OBJECT_BYTES) });
        assert_eq!(code(object("branding", big)), "invalid_branding");
    }
}
