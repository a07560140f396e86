//! The rules of modifier selection: for every group a product offers, the number of picks
//! (repeats counted) lies between the group's `min_selections` and `max_selections`; a
//! modifier is picked more than once only if its group `allow_repeats`; every pick is a live
//! modifier of one of the product's groups (so another tenant's modifier, which RLS hides, is
//! simply unknown). Also the rules of a group's own definition.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ModifierGroupView;
use crate::error::Error;

/// Most modifiers in one group, and most picks of one modifier.
pub const MAX_MODIFIERS_PER_GROUP: usize = 100;
pub const MAX_QUANTITY_PER_PICK: u32 = 20;

/// One pick as a client sends it: a modifier and how many times (default 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pick {
    pub modifier_id: Uuid,
    #[serde(default = "one")]
    pub quantity: u32,
}

fn one() -> u32 {
    1
}

/// A validated pick, with what pricing and the kitchen need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChosenModifier {
    pub group_id: Uuid,
    pub group_name: String,
    pub modifier_id: Uuid,
    pub name: String,
    pub quantity: u32,
    pub price_delta_minor: i64,
}

fn rejected(code: &'static str, detail: String) -> Error {
    Error::unprocessable(code, detail).with_extension("field", "modifiers")
}

/// Checks `picks` against the product's `groups` (live groups only) and returns them resolved,
/// in group then pick order. Codes (422): `unknown_modifier`, `invalid_modifier_quantity`,
/// `modifier_repeated`, `too_few_modifiers`, `too_many_modifiers` (with `modifier_group_id`).
pub fn select(groups: &[ModifierGroupView], picks: &[Pick]) -> Result<Vec<ChosenModifier>, Error> {
    // Merge repeated ids first: [A, A] is A ×2 for the repeat and max rules.
    let mut merged: Vec<Pick> = Vec::new();
    for pick in picks {
        if pick.quantity == 0 || pick.quantity > MAX_QUANTITY_PER_PICK {
            return Err(rejected(
                "invalid_modifier_quantity",
                format!(
                    "A modifier is picked 1 to {MAX_QUANTITY_PER_PICK} times (modifier {}).",
                    pick.modifier_id
                ),
            )
            .with_extension("modifier_id", pick.modifier_id.to_string()));
        }
        match merged
            .iter_mut()
            .find(|m| m.modifier_id == pick.modifier_id)
        {
            Some(existing) => existing.quantity = existing.quantity.saturating_add(pick.quantity),
            None => merged.push(*pick),
        }
    }
    for pick in &merged {
        let known = groups
            .iter()
            .filter(|g| g.archived_at.is_none())
            .any(|g| g.modifiers.iter().any(|m| m.id == pick.modifier_id));
        if !known {
            return Err(rejected(
                "unknown_modifier",
                format!(
                    "Modifier {} is not offered with this product.",
                    pick.modifier_id
                ),
            )
            .with_extension("modifier_id", pick.modifier_id.to_string()));
        }
    }
    let mut chosen = Vec::new();
    for group in groups.iter().filter(|g| g.archived_at.is_none()) {
        let mut count: u64 = 0;
        for modifier in &group.modifiers {
            let Some(pick) = merged.iter().find(|p| p.modifier_id == modifier.id) else {
                continue;
            };
            if pick.quantity > 1 && !group.allow_repeats {
                return Err(rejected(
                    "modifier_repeated",
                    format!(
                        "{:?} may be picked once in {:?}.",
                        modifier.name, group.name
                    ),
                )
                .with_extension("modifier_group_id", group.id.to_string())
                .with_extension("modifier_id", modifier.id.to_string()));
            }
            count += u64::from(pick.quantity);
            chosen.push(ChosenModifier {
                group_id: group.id,
                group_name: group.name.clone(),
                modifier_id: modifier.id,
                name: modifier.name.clone(),
                quantity: pick.quantity,
                price_delta_minor: modifier.price_delta_minor,
            });
        }
        let min = u64::try_from(group.min_selections).unwrap_or(0);
        if count < min {
            return Err(rejected(
                "too_few_modifiers",
                format!(
                    "{:?} needs at least {min} selection(s); {count} given.",
                    group.name
                ),
            )
            .with_extension("modifier_group_id", group.id.to_string()));
        }
        if let Some(max) = group.max_selections.and_then(|m| u64::try_from(m).ok())
            && count > max
        {
            return Err(rejected(
                "too_many_modifiers",
                format!(
                    "{:?} allows at most {max} selection(s); {count} given.",
                    group.name
                ),
            )
            .with_extension("modifier_group_id", group.id.to_string()));
        }
    }
    Ok(chosen)
}

/// The rules of a group's definition: `min <= max`, `max >= 1`, and without repeats a group
/// cannot require more picks than it has modifiers (422 `invalid_selection_limits`).
pub fn check_limits(
    min_selections: i32,
    max_selections: Option<i32>,
    allow_repeats: bool,
    modifier_count: usize,
) -> Result<(), Error> {
    let bad = |detail: String| {
        Error::unprocessable("invalid_selection_limits", detail)
            .with_extension("field", "min_selections")
    };
    if min_selections < 0 {
        return Err(bad("`min_selections` cannot be negative.".to_owned()));
    }
    if let Some(max) = max_selections
        && (max < 1 || max < min_selections)
    {
        return Err(bad(format!(
            "`max_selections` ({max}) must be at least 1 and at least `min_selections` \
             ({min_selections})."
        )));
    }
    let count = i32::try_from(modifier_count).unwrap_or(i32::MAX);
    if !allow_repeats && min_selections > count {
        return Err(bad(format!(
            "Without repeats, {count} modifier(s) cannot satisfy `min_selections` \
             {min_selections}."
        )));
    }
    if modifier_count > MAX_MODIFIERS_PER_GROUP {
        return Err(bad(format!(
            "A group has at most {MAX_MODIFIERS_PER_GROUP} modifiers."
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::catalog::ModifierView;
    use chrono::Utc;

    fn group(
        min: i32,
        max: Option<i32>,
        repeats: bool,
        modifiers: &[(u128, i64)],
    ) -> ModifierGroupView {
        ModifierGroupView {
            id: Uuid::now_v7(),
            name: "Extras".to_owned(),
            min_selections: min,
            max_selections: max,
            allow_repeats: repeats,
            modifiers: modifiers
                .iter()
                .enumerate()
                .map(|(i, (id, delta))| ModifierView {
                    id: Uuid::from_u128(*id),
                    name: format!("M{id}"),
                    price_delta_minor: *delta,
                    position: i32::try_from(i).unwrap(),
                })
                .collect(),
            external_key: None,
            version: 1,
            change_seq: 1,
            archived_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn pick(id: u128, quantity: u32) -> Pick {
        Pick {
            modifier_id: Uuid::from_u128(id),
            quantity,
        }
    }

    #[test]
    fn picks_within_limits_resolve_with_their_deltas() {
        let size = group(1, Some(1), false, &[(1, 0), (2, 50)]);
        let extras = group(0, Some(3), true, &[(3, 100), (4, -20)]);
        let chosen = select(&[size, extras], &[pick(2, 1), pick(3, 2), pick(4, 1)]).unwrap();
        let deltas: Vec<(i64, u32)> = chosen
            .iter()
            .map(|c| (c.price_delta_minor, c.quantity))
            .collect();
        assert_eq!(deltas, vec![(50, 1), (100, 2), (-20, 1)]);
    }

    #[test]
    fn every_rule_has_its_code() {
        let size = || group(1, Some(1), false, &[(1, 0), (2, 50)]);
        let extras = || group(0, Some(2), true, &[(3, 100)]);
        let code = |groups: &[ModifierGroupView], picks: &[Pick]| {
            select(groups, picks).unwrap_err().code().to_owned()
        };
        assert_eq!(code(&[size()], &[]), "too_few_modifiers");
        assert_eq!(
            code(&[size()], &[pick(1, 1), pick(2, 1)]),
            "too_many_modifiers"
        );
        assert_eq!(code(&[size()], &[pick(2, 2)]), "modifier_repeated");
        assert_eq!(
            code(&[size()], &[pick(2, 1), pick(2, 1)]),
            "modifier_repeated"
        );
        assert_eq!(code(&[size()], &[pick(9, 1)]), "unknown_modifier");
        assert_eq!(code(&[size()], &[pick(1, 0)]), "invalid_modifier_quantity");
        assert_eq!(
            code(&[size(), extras()], &[pick(1, 1), pick(3, 3)]),
            "too_many_modifiers"
        );
        let mut archived = extras();
        archived.archived_at = Some(Utc::now());
        assert_eq!(
            code(&[size(), archived], &[pick(1, 1), pick(3, 1)]),
            "unknown_modifier"
        );
    }

    #[test]
    fn group_limits_are_consistent() {
        assert!(check_limits(0, None, false, 0).is_ok());
        assert!(check_limits(1, Some(1), false, 2).is_ok());
        assert!(check_limits(3, Some(3), true, 1).is_ok());
        for (min, max, repeats, count) in [
            (2, Some(1), false, 3),
            (0, Some(0), false, 1),
            (3, None, false, 2),
            (-1, None, false, 1),
        ] {
            assert_eq!(
                check_limits(min, max, repeats, count).unwrap_err().code(),
                "invalid_selection_limits"
            );
        }
    }
}
