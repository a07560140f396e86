//! Worked examples, each figure computed by hand in its comment.

use super::*;

fn rate(name: &str, bps: i64, inclusive: bool) -> Rate {
    Rate {
        // A stable id per name, so sums per rate can be checked.
        id: Uuid::from_u128(name.bytes().fold(7_u128, |h, b| {
            h.wrapping_mul(31).wrapping_add(u128::from(b))
        })),
        name: name.to_owned(),
        rate_bps: bps,
        inclusive,
    }
}

fn line(unit: i64, quantity: i64, rates: &[&Rate]) -> LineInput {
    LineInput {
        unit_price_minor: unit,
        quantity,
        discounts: Vec::new(),
        rates: rates.iter().map(|rate| (*rate).clone()).collect(),
    }
}

fn percent(bps: i64) -> Discount {
    Discount {
        adjustment: Adjustment::Percent { bps },
        name: None,
    }
}

fn fixed(amount_minor: i64) -> Discount {
    Discount {
        adjustment: Adjustment::Fixed { amount_minor },
        name: None,
    }
}

fn order(lines: Vec<LineInput>) -> OrderInput {
    OrderInput {
        lines,
        ..OrderInput::default()
    }
}

/// (gross, discount, net, tax, total) of every line, then the order's
/// (subtotal, discount, tax, included tax, service charge, tip, total).
type Figures = (Vec<(i64, i64, i64, i64, i64)>, [i64; 7]);

fn figures(priced: &PricedOrder) -> Figures {
    (
        priced
            .lines
            .iter()
            .map(|l| {
                (
                    l.gross_minor,
                    l.discount_minor,
                    l.net_minor,
                    l.tax_minor,
                    l.total_minor,
                )
            })
            .collect(),
        [
            priced.subtotal_minor,
            priced.discount_minor,
            priced.tax_minor,
            priced.tax_included_minor,
            priced.service_charge_minor,
            priced.tip_minor,
            priced.total_minor,
        ],
    )
}

#[test]
fn worked_examples() {
    let vat20 = rate("VAT 20%", 2000, true);
    let vat77 = rate("VAT 7.7%", 770, true);
    let sales8 = rate("Sales 8%", 800, false);
    let sales5 = rate("Sales 5%", 500, false);
    let city1 = rate("City 1%", 100, false);
    let mut examples: Vec<(&str, OrderInput, Figures)> = vec![
        (
            "no tax: 350 x 2",
            order(vec![line(350, 2, &[])]),
            (vec![(700, 0, 700, 0, 700)], [700, 0, 0, 0, 0, 0, 700]),
        ),
        (
            // 1999 x 10% = 199.9 -> 200.
            "exclusive 10% rounds up",
            order(vec![line(1999, 1, &[&rate("Sales 10%", 1000, false)])]),
            (
                vec![(1999, 0, 1999, 200, 2199)],
                [1999, 0, 200, 0, 0, 0, 2199],
            ),
        ),
        (
            // 250 x 5% = 12.5 -> 12 (even); 350 x 5% = 17.5 -> 18 (even): half-even per line.
            "half-even per line",
            order(vec![line(250, 1, &[&sales5]), line(350, 1, &[&sales5])]),
            (
                vec![(250, 0, 250, 12, 262), (350, 0, 350, 18, 368)],
                [600, 0, 30, 0, 0, 0, 630],
            ),
        ),
        (
            // 1200 incl. 20%: 1200 / 1.2 = 1000, tax 200; 1000 / 1.2 = 833.33 -> 833, tax 167.
            "inclusive 20%",
            order(vec![line(1200, 1, &[&vat20]), line(1000, 1, &[&vat20])]),
            (
                vec![(1200, 0, 1200, 200, 1200), (1000, 0, 1000, 167, 1000)],
                [2200, 0, 367, 367, 0, 0, 2200],
            ),
        ),
        (
            // 550 / 1.077 = 510.68 -> 511, tax 39.
            "inclusive 7.7%",
            order(vec![line(550, 1, &[&vat77])]),
            (vec![(550, 0, 550, 39, 550)], [550, 0, 39, 39, 0, 0, 550]),
        ),
        (
            // Unit 450 (400 + a 50 modifier) x 3 = 1350; -10% = 135 -> 1215;
            // 8% of 1215 = 97.2 -> 97; 1% = 12.15 -> 12; total 1215 + 109 = 1324.
            "line discount then two exclusive rates",
            OrderInput {
                lines: vec![LineInput {
                    discounts: vec![percent(1000)],
                    ..line(450, 3, &[&sales8, &city1])
                }],
                ..OrderInput::default()
            },
            (
                vec![(1350, 135, 1215, 109, 1324)],
                [1350, 135, 109, 0, 0, 0, 1324],
            ),
        ),
        (
            // Fixed 500 off an order of 1000 + 3000: spread 125 / 375.
            "fixed order discount spread in proportion",
            OrderInput {
                discounts: vec![fixed(500)],
                ..order(vec![line(1000, 1, &[]), line(3000, 1, &[])])
            },
            (
                vec![(1000, 125, 875, 0, 875), (3000, 375, 2625, 0, 2625)],
                [4000, 500, 0, 0, 0, 0, 3500],
            ),
        ),
        (
            // 15% of 333 + 667 = 150; exact shares 49.95 and 100.05 -> 49 + 100, the leftover
            // unit to the larger remainder (the first line): 50 and 100.
            "percentage order discount, largest remainder",
            OrderInput {
                discounts: vec![percent(1500)],
                ..order(vec![line(333, 1, &[]), line(667, 1, &[])])
            },
            (
                vec![(333, 50, 283, 0, 283), (667, 100, 567, 0, 567)],
                [1000, 150, 0, 0, 0, 0, 850],
            ),
        ),
        (
            // 5000 off 4000 is capped at 4000: the order costs nothing but the tip.
            "a discount never goes below zero",
            OrderInput {
                discounts: vec![fixed(5000)],
                tip_minor: 300,
                ..order(vec![line(1000, 4, &[&sales8])])
            },
            (vec![(4000, 4000, 0, 0, 0)], [4000, 4000, 0, 0, 0, 300, 300]),
        ),
        (
            // 2000 of food - 20% = 1600; 8% tax = 128; service 12.5% of the discounted 1600
            // = 200; tip 300: 1728 + 200 + 300 = 2228.
            "service charge and tip are added untaxed",
            OrderInput {
                discounts: vec![percent(2000)],
                service_charge: Some(Adjustment::Percent { bps: 1250 }),
                tip_minor: 300,
                ..order(vec![line(1000, 2, &[&sales8])])
            },
            (
                vec![(2000, 400, 1600, 128, 1728)],
                [2000, 400, 128, 0, 200, 300, 2228],
            ),
        ),
        (
            // Line: 1000 - fixed 100 = 900, then the order's 10% of 900 + 500 = 140, spread
            // 90 / 50 -> 810 and 450. Inclusive 20% of 810: 810 / 1.2 = 675, tax 135;
            // exclusive 5% of 450 = 22.5 -> 22 (even).
            "line and order discounts together, mixed tax kinds",
            OrderInput {
                discounts: vec![percent(1000)],
                ..order(vec![
                    LineInput {
                        discounts: vec![fixed(100)],
                        ..line(1000, 1, &[&vat20])
                    },
                    line(500, 1, &[&sales5]),
                ])
            },
            (
                vec![(1000, 190, 810, 135, 810), (500, 50, 450, 22, 472)],
                [1500, 240, 157, 135, 0, 0, 1282],
            ),
        ),
        (
            // 1180 incl. 10% + 8% (18%): 1180 / 1.18 = 1000, tax 180 split 10:8 -> 100 + 80.
            "two inclusive rates split the included tax",
            order(vec![line(
                1180,
                1,
                &[
                    &rate("State 10%", 1000, true),
                    &rate("County 8%", 800, true),
                ],
            )]),
            (
                vec![(1180, 0, 1180, 180, 1180)],
                [1180, 0, 180, 180, 0, 0, 1180],
            ),
        ),
    ];
    for (name, input, expected) in examples.drain(..) {
        let priced = price(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(figures(&priced), expected, "{name}");
        // Invariants that hold for every order.
        let lines_total: i64 = priced.lines.iter().map(|l| l.total_minor).sum();
        assert_eq!(
            priced.total_minor,
            lines_total + priced.service_charge_minor + priced.tip_minor,
            "{name}"
        );
        for l in &priced.lines {
            assert_eq!(l.gross_minor - l.discount_minor, l.net_minor, "{name}");
            assert!(l.net_minor >= 0, "{name}");
        }
        let order_discounts: i64 = priced.discounts.iter().map(|d| d.amount_minor).sum();
        let spread: i64 = priced.lines.iter().map(|l| l.order_discount_minor).sum();
        assert_eq!(order_discounts, spread, "{name}");
    }
}

#[test]
fn taxes_are_summed_per_rate() {
    let sales5 = rate("Sales 5%", 500, false);
    let priced = price(&order(vec![
        line(250, 1, &[&sales5]),
        line(350, 1, &[&sales5]),
    ]))
    .unwrap();
    assert_eq!(priced.taxes.len(), 1);
    assert_eq!(priced.taxes[0].tax_rate_id, sales5.id);
    assert_eq!(priced.taxes[0].amount_minor, 30);
}

#[test]
fn half_even_and_allocation_primitives() {
    assert_eq!(div_half_even(25, 10), 2);
    assert_eq!(div_half_even(35, 10), 4);
    assert_eq!(div_half_even(26, 10), 3);
    assert_eq!(div_half_even(24, 10), 2);
    assert_eq!(div_half_even(0, 7), 0);
    assert_eq!(allocate(10, &[1, 1, 1]), vec![4, 3, 3]);
    assert_eq!(allocate(2, &[1, 1, 1]), vec![1, 1, 0]);
    assert_eq!(allocate(5, &[0, 0]), vec![0, 0]);
    assert_eq!(allocate(7, &[0, 3]), vec![0, 7]);
}

#[test]
fn bad_input_is_a_422_naming_the_field() {
    let field = |input: OrderInput| {
        let error = price(&input).unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        (
            error.code().to_owned(),
            error.problem().extensions["field"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    };
    assert_eq!(
        field(order(vec![line(100, 0, &[])])),
        ("invalid_quantity".into(), "lines[0].quantity".into())
    );
    assert_eq!(
        field(OrderInput {
            discounts: vec![percent(10_001)],
            ..order(vec![line(100, 1, &[])])
        }),
        ("invalid_percentage".into(), "discounts[0].bps".into())
    );
    assert_eq!(
        field(order(vec![LineInput {
            discounts: vec![fixed(-1)],
            ..line(100, 1, &[])
        }])),
        (
            "invalid_amount".into(),
            "lines[0].discounts[0].amount_minor".into()
        )
    );
    assert_eq!(
        field(OrderInput {
            tip_minor: -5,
            ..order(vec![line(100, 1, &[])])
        }),
        ("invalid_amount".into(), "tip_minor".into())
    );
    assert_eq!(
        field(order(vec![line(MAX_AMOUNT_MINOR, 2, &[])])),
        ("amount_too_large".into(), "lines[0].gross_minor".into())
    );
}
