//! Order pricing: pure arithmetic over prices the server resolved itself (client prices are
//! never read). Everything is in integer minor units; intermediate products use `i128`, so no
//! amount is ever a float and nothing overflows silently.
//!
//! The rules, in order:
//! 1. A line's gross is `unit price × quantity` (the unit price already holds the modifier
//!    deltas, from `olympus::catalog::pricing::resolve_item`).
//! 2. Line discounts apply in the order given: a percentage of what is left of the line,
//!    rounded half-even, or a fixed amount; never below zero (each is capped at what is left).
//! 3. Order discounts apply in the order given to what is left of the whole order, with the
//!    same rules, and each is spread over the lines in proportion to what is left of them
//!    (largest remainder, ties to the earlier line), so lines always sum to the order exactly.
//! 4. Taxes per line, each rate rounded half-even on its own: an exclusive rate is
//!    `net × rate` on top; inclusive rates are already in the net: their total is
//!    `net − net ÷ (1 + Σ inclusive rates)`, split between them in proportion to their rates.
//!    Where a line has both kinds, exclusive rates apply to the net without inclusive tax.
//! 5. A service charge (percentage of the discounted lines, half-even, or fixed) and a tip are
//!    added untaxed.
//!
//! `total = Σ line nets + Σ exclusive taxes + service charge + tip`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

/// 100 % in basis points.
pub const FULL_BPS: i64 = 10_000;
/// Largest quantity on one line.
pub const MAX_QUANTITY: i64 = 9_999;
/// Largest amount (minor units) any single figure may reach: 10^13, far above any real order
/// yet far from `i64::MAX`, so sums of figures cannot overflow.
pub const MAX_AMOUNT_MINOR: i64 = 10_000_000_000_000;

/// A discount or a service charge: a percentage in basis points, or a fixed amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Adjustment {
    Percent { bps: i64 },
    Fixed { amount_minor: i64 },
}

/// A discount as a client sends it: what it is, with a name for the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discount {
    #[serde(flatten)]
    pub adjustment: Adjustment,
    #[serde(default)]
    pub name: Option<String>,
}

/// A tax rate as pricing needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rate {
    pub id: Uuid,
    pub name: String,
    pub rate_bps: i64,
    pub inclusive: bool,
}

/// One line to price.
#[derive(Debug, Clone, PartialEq)]
pub struct LineInput {
    pub unit_price_minor: i64,
    pub quantity: i64,
    pub discounts: Vec<Discount>,
    pub rates: Vec<Rate>,
}

/// An order to price.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrderInput {
    pub lines: Vec<LineInput>,
    pub discounts: Vec<Discount>,
    pub service_charge: Option<Adjustment>,
    pub tip_minor: i64,
}

/// One tax on one line (or, in [`PricedOrder::taxes`], summed over the order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaxAmount {
    pub tax_rate_id: Uuid,
    pub name: String,
    pub rate_bps: i64,
    pub inclusive: bool,
    pub amount_minor: i64,
}

/// A discount and what it took off (on a line, or on the order before spreading).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDiscount {
    #[serde(flatten)]
    pub adjustment: Adjustment,
    pub name: Option<String>,
    /// What it took off. On the wire `applied_minor`: a fixed discount's own `amount_minor`
    /// (what was asked) sits beside it, and a capped one differs from it.
    #[serde(rename = "applied_minor")]
    pub amount_minor: i64,
}

/// A priced line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricedLine {
    pub unit_price_minor: i64,
    pub quantity: i64,
    /// `unit × quantity`.
    pub gross_minor: i64,
    pub discounts: Vec<AppliedDiscount>,
    /// The line's share of the order discounts.
    pub order_discount_minor: i64,
    /// Every discount on this line, its own and its share of the order's.
    pub discount_minor: i64,
    /// What the customer pays for the line before exclusive taxes (inclusive taxes are in it).
    pub net_minor: i64,
    pub taxes: Vec<TaxAmount>,
    pub tax_minor: i64,
    /// `net + exclusive taxes`.
    pub total_minor: i64,
}

/// A priced order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricedOrder {
    pub lines: Vec<PricedLine>,
    pub discounts: Vec<AppliedDiscount>,
    /// Σ line gross.
    pub subtotal_minor: i64,
    /// Σ every discount (line and order).
    pub discount_minor: i64,
    /// Σ every tax, inclusive and exclusive.
    pub tax_minor: i64,
    /// The part of `tax_minor` already inside the prices.
    pub tax_included_minor: i64,
    pub service_charge_minor: i64,
    pub tip_minor: i64,
    pub total_minor: i64,
    /// Taxes summed per rate over the order, in order of first appearance.
    pub taxes: Vec<TaxAmount>,
}

fn invalid(code: &'static str, field: String, detail: String) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

/// `n / d` rounded half to even, for `n >= 0`, `d > 0`.
pub fn div_half_even(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal if q % 2 == 1 => q + 1,
        _ => q,
    }
}

/// Splits `total` over `weights` in proportion (largest remainder, ties to the earlier index).
/// With no weight at all, nothing is allocated.
pub fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if sum <= 0 || total <= 0 {
        return vec![0; weights.len()];
    }
    let total = i128::from(total);
    let mut shares: Vec<i128> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (index, weight) in weights.iter().enumerate() {
        let exact = total * i128::from(*weight);
        shares.push(exact / sum);
        remainders.push((exact % sum, index));
    }
    let mut left = total - shares.iter().sum::<i128>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, index) in remainders {
        if left == 0 {
            break;
        }
        shares[index] += 1;
        left -= 1;
    }
    shares
        .into_iter()
        .map(|share| i64::try_from(share).unwrap_or(i64::MAX))
        .collect()
}

/// What `adjustment` amounts to on `base`, capped at `base` (never below zero).
fn amount_of(adjustment: Adjustment, base: i64) -> i64 {
    let raw = match adjustment {
        Adjustment::Percent { bps } => {
            let exact = div_half_even(i128::from(base) * i128::from(bps), i128::from(FULL_BPS));
            i64::try_from(exact).unwrap_or(i64::MAX)
        }
        Adjustment::Fixed { amount_minor } => amount_minor,
    };
    raw.clamp(0, base.max(0))
}

fn check_adjustment(adjustment: Adjustment, field: &str) -> Result<(), Error> {
    match adjustment {
        Adjustment::Percent { bps } if !(0..=FULL_BPS).contains(&bps) => Err(invalid(
            "invalid_percentage",
            format!("{field}.bps"),
            format!("`{field}.bps` must be between 0 and 10000 (100 %)."),
        )),
        Adjustment::Fixed { amount_minor } if !(0..=MAX_AMOUNT_MINOR).contains(&amount_minor) => {
            Err(invalid(
                "invalid_amount",
                format!("{field}.amount_minor"),
                format!("`{field}.amount_minor` must be between 0 and {MAX_AMOUNT_MINOR}."),
            ))
        }
        _ => Ok(()),
    }
}

fn check_total(amount: i128, field: &str) -> Result<i64, Error> {
    i64::try_from(amount)
        .ok()
        .filter(|amount| (0..=MAX_AMOUNT_MINOR).contains(amount))
        .ok_or_else(|| {
            invalid(
                "amount_too_large",
                field.to_owned(),
                format!("`{field}` would exceed {MAX_AMOUNT_MINOR} minor units."),
            )
        })
}

/// Checks the input (422 with the offending field) before any arithmetic.
fn check(order: &OrderInput) -> Result<(), Error> {
    for (i, line) in order.lines.iter().enumerate() {
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            return Err(invalid(
                "invalid_quantity",
                format!("lines[{i}].quantity"),
                format!("`lines[{i}].quantity` must be between 1 and {MAX_QUANTITY}."),
            ));
        }
        for (j, discount) in line.discounts.iter().enumerate() {
            check_adjustment(discount.adjustment, &format!("lines[{i}].discounts[{j}]"))?;
        }
    }
    for (j, discount) in order.discounts.iter().enumerate() {
        check_adjustment(discount.adjustment, &format!("discounts[{j}]"))?;
    }
    if let Some(charge) = order.service_charge {
        check_adjustment(charge, "service_charge")?;
    }
    if !(0..=MAX_AMOUNT_MINOR).contains(&order.tip_minor) {
        return Err(invalid(
            "invalid_amount",
            "tip_minor".to_owned(),
            format!("`tip_minor` must be between 0 and {MAX_AMOUNT_MINOR}."),
        ));
    }
    Ok(())
}

/// Prices `order` by the rules of this module. Errors are 422s naming the field.
pub fn price(order: &OrderInput) -> Result<PricedOrder, Error> {
    check(order)?;
    let mut lines = Vec::with_capacity(order.lines.len());
    for (i, line) in order.lines.iter().enumerate() {
        let gross = check_total(
            i128::from(line.unit_price_minor.max(0)) * i128::from(line.quantity),
            &format!("lines[{i}].gross_minor"),
        )?;
        let mut left = gross;
        let mut discounts = Vec::with_capacity(line.discounts.len());
        for discount in &line.discounts {
            let amount = amount_of(discount.adjustment, left);
            left -= amount;
            discounts.push(AppliedDiscount {
                adjustment: discount.adjustment,
                name: discount.name.clone(),
                amount_minor: amount,
            });
        }
        lines.push(PricedLine {
            unit_price_minor: line.unit_price_minor.max(0),
            quantity: line.quantity,
            gross_minor: gross,
            discount_minor: gross - left,
            discounts,
            order_discount_minor: 0,
            net_minor: left,
            taxes: Vec::new(),
            tax_minor: 0,
            total_minor: left,
        });
    }

    let mut order_discounts = Vec::with_capacity(order.discounts.len());
    for discount in &order.discounts {
        let nets: Vec<i64> = lines.iter().map(|line| line.net_minor).collect();
        let left: i64 = nets.iter().sum();
        let amount = amount_of(discount.adjustment, left);
        for (line, share) in lines.iter_mut().zip(allocate(amount, &nets)) {
            line.order_discount_minor += share;
            line.discount_minor += share;
            line.net_minor -= share;
        }
        order_discounts.push(AppliedDiscount {
            adjustment: discount.adjustment,
            name: discount.name.clone(),
            amount_minor: amount,
        });
    }

    for (line, input) in lines.iter_mut().zip(&order.lines) {
        line.taxes = line_taxes(line.net_minor, &input.rates);
        line.tax_minor = line.taxes.iter().map(|tax| tax.amount_minor).sum();
        let exclusive: i64 = line
            .taxes
            .iter()
            .filter(|tax| !tax.inclusive)
            .map(|tax| tax.amount_minor)
            .sum();
        line.total_minor = line.net_minor + exclusive;
    }

    let net: i64 = lines.iter().map(|line| line.net_minor).sum();
    let service_charge_minor = match order.service_charge {
        Some(Adjustment::Percent { bps }) => check_total(
            div_half_even(i128::from(net) * i128::from(bps), i128::from(FULL_BPS)),
            "service_charge_minor",
        )?,
        Some(Adjustment::Fixed { amount_minor }) => amount_minor,
        None => 0,
    };
    let mut taxes: Vec<TaxAmount> = Vec::new();
    for tax in lines.iter().flat_map(|line| &line.taxes) {
        match taxes.iter_mut().find(|t| t.tax_rate_id == tax.tax_rate_id) {
            Some(sum) => sum.amount_minor += tax.amount_minor,
            None => taxes.push(tax.clone()),
        }
    }
    let sum = |f: fn(&PricedLine) -> i64| lines.iter().map(f).map(i128::from).sum::<i128>();
    let subtotal_minor = check_total(sum(|l| l.gross_minor), "subtotal_minor")?;
    let discount_minor = check_total(sum(|l| l.discount_minor), "discount_minor")?;
    let tax_minor = check_total(sum(|l| l.tax_minor), "tax_minor")?;
    let tax_included_minor = taxes
        .iter()
        .filter(|tax| tax.inclusive)
        .map(|tax| tax.amount_minor)
        .sum();
    let total_minor = check_total(
        sum(|l| l.total_minor) + i128::from(service_charge_minor) + i128::from(order.tip_minor),
        "total_minor",
    )?;
    Ok(PricedOrder {
        lines,
        discounts: order_discounts,
        subtotal_minor,
        discount_minor,
        tax_minor,
        tax_included_minor,
        service_charge_minor,
        tip_minor: order.tip_minor,
        total_minor,
        taxes,
    })
}

/// The taxes of one line whose customer-paid amount (before exclusive taxes) is `net`.
fn line_taxes(net: i64, rates: &[Rate]) -> Vec<TaxAmount> {
    let inclusive_bps: i64 = rates
        .iter()
        .filter(|rate| rate.inclusive)
        .map(|rate| rate.rate_bps)
        .sum();
    let before_inclusive = div_half_even(
        i128::from(net) * i128::from(FULL_BPS),
        i128::from(FULL_BPS + inclusive_bps),
    );
    let before_inclusive = i64::try_from(before_inclusive).unwrap_or(net);
    let inclusive_weights: Vec<i64> = rates
        .iter()
        .map(|rate| if rate.inclusive { rate.rate_bps } else { 0 })
        .collect();
    let inclusive_shares = allocate(net - before_inclusive, &inclusive_weights);
    rates
        .iter()
        .zip(inclusive_shares)
        .map(|(rate, inclusive_share)| TaxAmount {
            tax_rate_id: rate.id,
            name: rate.name.clone(),
            rate_bps: rate.rate_bps,
            inclusive: rate.inclusive,
            amount_minor: if rate.inclusive {
                inclusive_share
            } else {
                let exact = div_half_even(
                    i128::from(before_inclusive) * i128::from(rate.rate_bps),
                    i128::from(FULL_BPS),
                );
                i64::try_from(exact).unwrap_or(i64::MAX)
            },
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
