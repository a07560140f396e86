//! `dev seed` (and `dev up --seed demo`): a demo restaurant tenant with weeks of history, made
//! through the platform's HTTP API as tills make it, never with SQL, so every figure a report
//! shows went through the same domain code as a real sale.
//!
//! What it creates ("Copper Pot Kitchen", plan `pro`):
//! - two locations in different time zones and currencies: Downtown (Europe/London, GBP, 20 %
//!   VAT included in prices) and Harbour (America/New_York, USD, 8 % sales tax on top), each
//!   with a till and a kitchen display registered as devices;
//! - staff: the owner (password), a manager everywhere, a server at each location and a
//!   kitchen lead (a custom `kitchen` role), each with a PIN for the tills;
//! - a category tree, products with sized variants, modifier groups with price deltas, an
//!   all-day menu, stock received weekly at each location, a loyalty program and regulars;
//! - `--weeks` of orders ending now, taken with the servers' PIN sessions: lunch and dinner
//!   peaks, busier Fridays and Saturdays, dine-in with table and party size or takeout, happy
//!   hour, tips, split bills (card and cash, two cards, by lines), a few cancellations and
//!   refunds (some partial, some restocking). Every order, payment and refund carries its own
//!   client `created_at` (a till catching up after being offline), so it lands on its
//!   business day;
//! - kitchen stations mapped from categories, then the orders still on the floor at the end
//!   (placed, unpaid), whose tickets wait on the kitchen display;
//! - an API key, printed with curl-ready lines and written to `<state dir>/demo.env`.
//!
//! The plan (every order, line, split, refund and delivery) is a pure function of `--seed`,
//! `--weeks`, `--orders-per-day` and the moment it ends ([`plan`]); only ids differ between
//! runs. Re-running never mixes into an earlier demo: the slug takes the first free suffix
//! (`demo`, `demo-2`, ...) and the summary says which one it got.
//!
//! Stations come after the history because placing an order at a location with stations makes
//! tickets, and weeks of tickets left `pending` would bury the display. The server stamps
//! `placed_at`, `completed_at` and `cancelled_at` itself, so those are the seeding time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::{DateTime, Datelike as _, NaiveDate, TimeZone as _, Timelike as _, Utc, Weekday};
use chrono_tz::Tz;
use futures::TryStreamExt as _;
use serde_json::{Value, json};
use uuid::Uuid;

/// Orders on an average day at each location. Eight weeks of it at two locations is about
/// 3 300 orders, some 7 500 requests with their payments: under two minutes on 2 cores, with
/// the debug build `make dev` runs (about 40 orders/s).
pub const DEFAULT_ORDERS_PER_DAY: u32 = 30;
pub const DEFAULT_WEEKS: u32 = 8;
pub const DEFAULT_SEED: u64 = 20_240_501;
pub const DEFAULT_SLUG: &str = "demo";
pub const DEFAULT_CONCURRENCY: usize = 8;
/// The owner's password (a local demo: printed, never secret).
pub const OWNER_PASSWORD: &str = "copper pot demo owner";
/// Every staff member's password; they work the tills with their PIN.
pub const STAFF_PASSWORD: &str = "copper pot demo staff";
const TENANT_NAME: &str = "Copper Pot Kitchen";
/// Access tokens live 15 minutes; sessions sign in again well before.
const TOKEN_RENEW_AFTER: Duration = Duration::from_secs(10 * 60);
const ATTEMPTS: u32 = 4;
const MAILBOX_WAIT: Duration = Duration::from_secs(30);

/// A scenario `dev up --seed` may load once the platform listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// The demo restaurant of `dev seed`, with its defaults.
    Demo,
}

/// Options of `dev seed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port of the running platform (`make dev`).
    #[arg(long, env = "DEV_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Weeks of history, ending now.
    #[arg(long, default_value_t = DEFAULT_WEEKS,
          value_parser = clap::value_parser!(u32).range(1..=52))]
    pub weeks: u32,
    /// Orders on an average day at each location (Fridays and Saturdays take more).
    #[arg(long, default_value_t = DEFAULT_ORDERS_PER_DAY,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub orders_per_day: u32,
    /// The generator's seed: the same seed, weeks and orders per day give the same history.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// The tenant's slug; a taken slug gets the first free suffix (-2, -3, ...).
    #[arg(long, default_value = DEFAULT_SLUG)]
    pub slug: String,
    /// Orders in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// Where `demo.env` is written (default: .dev/).
    #[arg(long, env = "DEV_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// What to seed, and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The platform, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    pub weeks: u32,
    pub orders_per_day: u32,
    pub seed: u64,
    pub slug: String,
    pub concurrency: usize,
    /// A progress line on stderr.
    pub progress: bool,
    /// Where to write the tour's shell variables (`source`-able), if anywhere.
    pub env_file: Option<PathBuf>,
}

impl Options {
    /// The defaults of `dev seed` against `base_url`.
    pub fn demo(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            weeks: DEFAULT_WEEKS,
            orders_per_day: DEFAULT_ORDERS_PER_DAY,
            seed: DEFAULT_SEED,
            slug: DEFAULT_SLUG.to_owned(),
            concurrency: DEFAULT_CONCURRENCY,
            progress: true,
            env_file: None,
        }
    }
}

/// `dev seed`: seeds the platform listening on `--port` and prints the summary.
pub async fn run(args: Args) -> Result<()> {
    let state_dir = args
        .state_dir
        .unwrap_or_else(|| crate::topology::workspace_root().join(".dev"));
    let options = Options {
        base_url: format!("http://127.0.0.1:{}", args.port),
        weeks: args.weeks,
        orders_per_day: args.orders_per_day,
        seed: args.seed,
        slug: args.slug,
        concurrency: usize::try_from(args.concurrency).unwrap_or(DEFAULT_CONCURRENCY),
        progress: true,
        env_file: Some(state_dir.join("demo.env")),
    };
    let summary = seed(&options).await?;
    summary.print();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The demo restaurant, as data.

/// A location of the demo.
#[derive(Debug)]
pub struct LocationSpec {
    pub name: &'static str,
    pub tz: Tz,
    pub currency: &'static str,
    address: (&'static str, &'static str, &'static str, &'static str),
    tax: (&'static str, i64, bool),
    tables: usize,
    /// Dine-in tips, as (tenths of a percent, weight).
    dine_in_tips: &'static [(i64, u32)],
    takeout_tips: &'static [(i64, u32)],
    /// Percent of single-tender bills paid in cash.
    cash_percent: u32,
    phone_prefix: &'static str,
    first_names: &'static [&'static str],
    last_names: &'static [&'static str],
}

pub const LOCATIONS: [LocationSpec; 2] = [
    LocationSpec {
        name: "Downtown",
        tz: chrono_tz::Europe::London,
        currency: "GBP",
        address: ("12 Bankside", "London", "SE1 9TG", "GB"),
        tax: ("VAT", 2000, true),
        tables: 18,
        dine_in_tips: &[(0, 40), (100, 40), (125, 20)],
        takeout_tips: &[(0, 85), (50, 15)],
        cash_percent: 22,
        // Ofcom's range for drama: never a real subscriber.
        phone_prefix: "+44 20 7946 01",
        first_names: &[
            "Amelia", "Oliver", "Isla", "George", "Ava", "Harry", "Mia", "Noah", "Freya", "Leo",
            "Poppy", "Arthur",
        ],
        last_names: &["Smith", "Jones", "Patel", "Brown", "Khan", "Evans"],
    },
    LocationSpec {
        name: "Harbour",
        tz: chrono_tz::America::New_York,
        currency: "USD",
        address: ("48 Water Street", "New York", "10005", "US"),
        tax: ("Sales tax", 800, false),
        tables: 22,
        dine_in_tips: &[(0, 5), (150, 20), (180, 40), (200, 28), (220, 7)],
        takeout_tips: &[(0, 55), (100, 30), (150, 15)],
        cash_percent: 15,
        // The 555-01xx numbers are reserved for fiction.
        phone_prefix: "+1 201 555 01",
        first_names: &[
            "Liam", "Emma", "Mateo", "Sofia", "Elijah", "Olivia", "Lucas", "Camila", "Ethan",
            "Harper", "Jackson", "Aria",
        ],
        last_names: &["Garcia", "Johnson", "Nguyen", "Rivera", "Cohen", "Williams"],
    },
];

/// Regulars per location (customers with a loyalty account).
pub const REGULARS: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Course {
    Starter,
    Main,
    Side,
    Dessert,
    HotDrink,
    SoftDrink,
    Alcohol,
}

/// (name, parent index).
const CATEGORIES: &[(&str, Option<usize>)] = &[
    ("Starters", None),
    ("Mains", None),
    ("Sides", None),
    ("Desserts", None),
    ("Drinks", None),
    ("Hot drinks", Some(4)),
    ("Soft drinks", Some(4)),
    ("Beer & wine", Some(4)),
];

/// (station, categories, takes whatever no other station cooks); drinks' subcategories
/// follow their parent to the bar.
const STATIONS: &[(&str, &[usize], bool)] = &[
    ("Grill", &[1], false),
    ("Bar", &[4], false),
    ("Pastry", &[3], false),
    ("Kitchen", &[], true),
];

#[derive(Debug)]
struct GroupSpec {
    name: &'static str,
    min: usize,
    max: usize,
    /// The chance of each pick beyond the required ones.
    extra: f64,
    modifiers: &'static [(&'static str, i64)],
}

const GROUPS: &[GroupSpec] = &[
    GroupSpec {
        name: "Milk",
        min: 0,
        max: 1,
        extra: 0.45,
        modifiers: &[("Whole milk", 0), ("Oat milk", 50), ("Soy milk", 40)],
    },
    GroupSpec {
        name: "Coffee extras",
        min: 0,
        max: 2,
        extra: 0.2,
        modifiers: &[("Extra shot", 60), ("Vanilla syrup", 50), ("Decaf", 0)],
    },
    GroupSpec {
        name: "Cooking",
        min: 1,
        max: 1,
        extra: 0.0,
        modifiers: &[("Medium rare", 0), ("Medium", 0), ("Well done", 0)],
    },
    GroupSpec {
        name: "Burger extras",
        min: 0,
        max: 3,
        extra: 0.35,
        modifiers: &[
            ("Bacon", 150),
            ("Extra cheddar", 100),
            ("Avocado", 120),
            ("Fried egg", 100),
        ],
    },
    GroupSpec {
        name: "Pizza toppings",
        min: 0,
        max: 4,
        extra: 0.35,
        modifiers: &[
            ("Pepperoni", 150),
            ("Mushrooms", 100),
            ("Olives", 80),
            ("Nduja", 180),
            ("Extra mozzarella", 120),
        ],
    },
    GroupSpec {
        name: "Dips",
        min: 0,
        max: 2,
        extra: 0.3,
        modifiers: &[("Garlic mayo", 60), ("Chipotle mayo", 60), ("Ketchup", 0)],
    },
    GroupSpec {
        name: "Salad add-ons",
        min: 0,
        max: 2,
        extra: 0.4,
        modifiers: &[
            ("Grilled chicken", 350),
            ("Halloumi", 300),
            ("Avocado", 150),
        ],
    },
    GroupSpec {
        name: "Add a scoop",
        min: 0,
        max: 1,
        extra: 0.3,
        modifiers: &[
            ("Vanilla ice cream", 150),
            ("Salted caramel ice cream", 150),
        ],
    },
];

#[derive(Debug, Clone, Copy)]
struct ProductSpec {
    name: &'static str,
    sku: &'static str,
    category: usize,
    course: Course,
    /// (Size value, price); one unnamed entry for a product without options.
    variants: &'static [(&'static str, i64)],
    groups: &'static [usize],
    tracked: bool,
    /// Popularity within its course.
    weight: u32,
    tags: &'static [&'static str],
    allergens: &'static [&'static str],
}

const fn product(
    name: &'static str,
    sku: &'static str,
    category: usize,
    course: Course,
    variants: &'static [(&'static str, i64)],
    groups: &'static [usize],
    weight: u32,
) -> ProductSpec {
    ProductSpec {
        name,
        sku,
        category,
        course,
        variants,
        groups,
        tracked: false,
        weight,
        tags: &[],
        allergens: &[],
    }
}

const fn tracked(spec: ProductSpec) -> ProductSpec {
    ProductSpec {
        tracked: true,
        ..spec
    }
}

const fn tagged(
    spec: ProductSpec,
    tags: &'static [&'static str],
    allergens: &'static [&'static str],
) -> ProductSpec {
    ProductSpec {
        tags,
        allergens,
        ..spec
    }
}

use Course::{Alcohol, Dessert, HotDrink, Main, Side, SoftDrink, Starter};

const PRODUCTS: &[ProductSpec] = &[
    tagged(
        product("Soup of the day", "SOUP", 0, Starter, &[("", 650)], &[], 3),
        &["vegetarian"],
        &["celery"],
    ),
    tagged(
        product("Burrata", "BURRATA", 0, Starter, &[("", 950)], &[], 2),
        &["vegetarian"],
        &["milk"],
    ),
    product(
        "Chicken wings",
        "WINGS",
        0,
        Starter,
        &[("6 pieces", 750), ("12 pieces", 1350)],
        &[5],
        4,
    ),
    tagged(
        product(
            "Cheeseburger",
            "BURGER",
            1,
            Main,
            &[("Single", 1450), ("Double", 1850)],
            &[2, 3],
            6,
        ),
        &[],
        &["gluten", "milk"],
    ),
    tagged(
        product(
            "Fish & chips",
            "FISH",
            1,
            Main,
            &[("Regular", 1600), ("Large", 1950)],
            &[5],
            5,
        ),
        &[],
        &["fish", "gluten"],
    ),
    tagged(
        product(
            "Margherita pizza",
            "PIZZA",
            1,
            Main,
            &[("10 inch", 1100), ("14 inch", 1500)],
            &[4],
            5,
        ),
        &["vegetarian"],
        &["gluten", "milk"],
    ),
    product("Caesar salad", "CAESAR", 1, Main, &[("", 1150)], &[6], 3),
    tagged(
        product(
            "Mushroom risotto",
            "RISOTTO",
            1,
            Main,
            &[("", 1400)],
            &[],
            2,
        ),
        &["vegetarian", "gluten-free"],
        &["milk"],
    ),
    tagged(
        product(
            "Fries",
            "FRIES",
            2,
            Side,
            &[("Regular", 400), ("Large", 550)],
            &[5],
            6,
        ),
        &["vegan"],
        &[],
    ),
    product("Side salad", "SALAD", 2, Side, &[("", 450)], &[], 2),
    product("Garlic bread", "GARLIC", 2, Side, &[("", 500)], &[], 3),
    product(
        "Sticky toffee pudding",
        "STP",
        3,
        Dessert,
        &[("", 750)],
        &[7],
        4,
    ),
    tracked(product(
        "Chocolate brownie",
        "BROWNIE",
        3,
        Dessert,
        &[("", 650)],
        &[7],
        3,
    )),
    product(
        "Ice cream",
        "ICECREAM",
        3,
        Dessert,
        &[("1 scoop", 350), ("2 scoops", 550), ("3 scoops", 700)],
        &[],
        2,
    ),
    product(
        "Flat white",
        "FLATWHITE",
        5,
        HotDrink,
        &[("Regular", 340), ("Large", 390)],
        &[0, 1],
        4,
    ),
    product(
        "Latte",
        "LATTE",
        5,
        HotDrink,
        &[("Regular", 350), ("Large", 410)],
        &[0, 1],
        4,
    ),
    product(
        "English breakfast tea",
        "TEA",
        5,
        HotDrink,
        &[("", 280)],
        &[0],
        2,
    ),
    product(
        "Lemonade",
        "LEMONADE",
        6,
        SoftDrink,
        &[("Regular", 350), ("Large", 450)],
        &[],
        4,
    ),
    tracked(product(
        "Sparkling water",
        "WATER",
        6,
        SoftDrink,
        &[("330 ml", 250), ("750 ml", 450)],
        &[],
        3,
    )),
    tracked(product(
        "Bottled lager",
        "LAGER",
        7,
        Alcohol,
        &[("", 550)],
        &[],
        5,
    )),
    product(
        "House red",
        "RED",
        7,
        Alcohol,
        &[("175 ml", 750), ("250 ml", 1000), ("Bottle", 2800)],
        &[],
        3,
    ),
];

/// A staff member of the demo; `location` None works everywhere.
#[derive(Debug)]
struct StaffSpec {
    name: &'static str,
    local: &'static str,
    role: &'static str,
    location: Option<usize>,
    pin: &'static str,
}

const STAFF: &[StaffSpec] = &[
    StaffSpec {
        name: "Priya Shah",
        local: "priya",
        role: "manager",
        location: None,
        pin: "2468",
    },
    StaffSpec {
        name: "Sam Taylor",
        local: "sam",
        role: "staff",
        location: Some(0),
        pin: "1357",
    },
    StaffSpec {
        name: "Jordan Reyes",
        local: "jordan",
        role: "staff",
        location: Some(1),
        pin: "8642",
    },
    StaffSpec {
        name: "Luca Bianchi",
        local: "luca",
        role: "kitchen",
        location: None,
        pin: "9753",
    },
];
const MANAGER: usize = 0;
/// The custom role of the kitchen lead: the display and the menu, no money.
const KITCHEN_PERMISSIONS: &[&str] = &[
    "tenant:read",
    "locations:read",
    "catalog:read",
    "inventory:read",
    "orders:read",
    "kitchen:read",
    "kitchen:write",
];
/// What the printed API key may do: a till's day.
const API_KEY_SCOPES: &[&str] = &[
    "locations:read",
    "catalog:read",
    "inventory:read",
    "orders:read",
    "orders:write",
    "payments:write",
    "refunds:write",
    "kitchen:read",
    "kitchen:write",
    "customers:read",
    "customers:write",
];

/// What the printed analytics key may do: read the reports, nothing else.
const ANALYTICS_KEY_SCOPES: &[&str] = &["analytics:read"];
/// The jobs the seed runs at its end (the reports read what they build).
const ANALYTICS_JOBS: &[&str] = &["rollup-sales", "build-recommendations"];

const CANCEL_REASONS: &[&str] = &[
    "Guest changed their mind",
    "Kitchen ran out",
    "Rang up on the wrong table",
    "Guest left before the food came",
];
const FULL_REFUND_REASONS: &[&str] = &["Order never arrived", "Charged the wrong table"];
const LINE_REFUND_REASONS: &[&str] = &[
    "Cold when served",
    "Wrong item",
    "Not as described",
    "Long wait",
];
const CARD_BRANDS: &[&str] = &["visa", "mastercard", "amex"];

/// First hour orders start, local time; the weights cover the hours from it.
const OPEN_HOUR: u32 = 11;
/// Order starts per hour from 11:00 to 22:00: lunch and dinner peaks.
const HOURS_WEEKDAY: [u32; 12] = [4, 10, 12, 6, 3, 3, 5, 9, 12, 10, 5, 2];
/// Weekends open busier: brunch runs into lunch.
const HOURS_WEEKEND: [u32; 12] = [9, 12, 12, 8, 4, 4, 5, 9, 12, 10, 6, 3];
/// Monday to Sunday.
const WEEKDAY_WEIGHTS: [f64; 7] = [0.8, 0.8, 0.9, 1.0, 1.35, 1.5, 1.0];

// ---------------------------------------------------------------------------------------------
// The generator and the plan.

/// SplitMix64 (Steele, Lea and Flood, 2014): small, well known and fast. It lives here so the
/// plan of a seed never changes with a dependency's version.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0), by multiply-shift: no modulo bias worth naming.
    pub fn below(&mut self, n: usize) -> usize {
        let wide = u128::from(self.next_u64()) * (n as u128);
        usize::try_from(wide >> 64).unwrap_or(0)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index drawn with the given weights (0 when they are all 0).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        let mut ticket = self.below(total);
        for (i, weight) in weights.iter().enumerate() {
            let weight = usize::try_from(*weight).unwrap_or(0);
            if ticket < weight {
                return i;
            }
            ticket -= weight;
        }
        0
    }

    fn minutes(&mut self, from: i64, to: i64) -> chrono::Duration {
        let span = usize::try_from(to - from + 1).unwrap_or(1);
        chrono::Duration::minutes(from + i64::try_from(self.below(span)).unwrap_or(0))
    }
}

/// What the plan is made from.
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions {
    pub weeks: u32,
    pub orders_per_day: u32,
    pub seed: u64,
    /// The history ends here.
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    DineIn,
    Takeout,
}

/// A line: indices into the demo's products, their variants and (group, modifier) picks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PlannedLine {
    pub product: usize,
    pub variant: usize,
    pub modifiers: Vec<(usize, usize)>,
    pub quantity: i64,
}

/// How a bill is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    Card,
    Cash,
    /// Cash for this percent of the total, the rest by card.
    CardAndCash {
        cash_percent: i64,
    },
    /// A first card for this percent, a second for the rest.
    TwoCards {
        first_percent: i64,
    },
    /// A card for the first half of the lines, a second for the rest (and the tip).
    ByLines,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundKind {
    /// Every payment, in full.
    Full,
    /// One line's total from the largest payment, its stock back when tracked.
    Line(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRefund {
    pub at: DateTime<Utc>,
    pub kind: RefundKind,
    pub reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Paid at `at` (a second payment 45 s later), then completed.
    Paid {
        at: DateTime<Utc>,
        settlement: Settlement,
        refund: Option<PlannedRefund>,
    },
    /// Cancelled, after being placed (stock back) or while still open.
    Cancelled { placed: bool, reason: &'static str },
    /// Still on the floor when the history ends: placed, unpaid, its tickets in the kitchen.
    Live,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOrder {
    /// Index into [`LOCATIONS`].
    pub location: usize,
    pub at: DateTime<Utc>,
    pub channel: Channel,
    pub table: Option<usize>,
    pub party_size: Option<usize>,
    /// Index into [`regulars`].
    pub customer: Option<usize>,
    pub lines: Vec<PlannedLine>,
    pub happy_hour: bool,
    pub tip_minor: i64,
    pub outcome: Outcome,
}

/// Stock received at a location: (product, variant, quantity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub location: usize,
    pub at: DateTime<Utc>,
    pub lines: Vec<(usize, usize, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Oldest first.
    pub orders: Vec<PlannedOrder>,
    pub deliveries: Vec<Delivery>,
}

/// A regular of the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regular {
    pub location: usize,
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// The regulars, [`REGULARS`] per location, location by location.
pub fn regulars() -> Vec<Regular> {
    let mut all = Vec::with_capacity(REGULARS * LOCATIONS.len());
    for (l, spec) in LOCATIONS.iter().enumerate() {
        for i in 0..REGULARS {
            let first = spec.first_names[i % spec.first_names.len()];
            // Stepping the surnames by a coprime stride pairs every first name with several.
            let last =
                spec.last_names[(i * 5 + i / spec.first_names.len()) % spec.last_names.len()];
            all.push(Regular {
                location: l,
                name: format!("{first} {last}"),
                email: format!("{first}.{last}{i}@example.com").to_lowercase(),
                phone: format!("{}{:02}", spec.phone_prefix, 10 + i),
            });
        }
    }
    all
}

/// The whole history, from `options` alone: the same options give the same plan.
pub fn plan(options: &PlanOptions) -> Plan {
    let mut rng = Rng::new(options.seed);
    let mut orders = Vec::new();
    let days = i64::from(options.weeks.max(1)) * 7;
    for (l, spec) in LOCATIONS.iter().enumerate() {
        let first = orders.len();
        let today = options.now.with_timezone(&spec.tz).date_naive();
        for back in (0..days).rev() {
            let date = today - chrono::Duration::days(back);
            for _ in 0..day_count(&mut rng, options.orders_per_day, date.weekday()) {
                if let Some(order) = order_on(&mut rng, l, date, options.now) {
                    orders.push(order);
                }
            }
        }
        let mine = &mut orders[first..];
        showcase(&mut rng, mine, options.now);
        let live = mine.iter().filter(|o| o.outcome == Outcome::Live).count();
        for _ in live..2 {
            // The kitchen display and the tour need something on the floor, even at 4 a.m.
            let at = options.now - rng.minutes(3, 25);
            let mut order = order_at(&mut rng, l, at, options.now);
            order.outcome = Outcome::Live;
            orders.push(order);
        }
    }
    orders.sort_by_key(|o| (o.at, o.location));
    let deliveries = deliveries(&orders, options);
    Plan { orders, deliveries }
}

/// Orders of one day: the location's average, shaped by the weekday, give or take 15 %.
fn day_count(rng: &mut Rng, per_day: u32, weekday: Weekday) -> u32 {
    let mean = WEEKDAY_WEIGHTS.iter().sum::<f64>() / 7.0;
    let index = usize::try_from(weekday.num_days_from_monday()).unwrap_or(0);
    let expected = f64::from(per_day) * WEEKDAY_WEIGHTS[index] / mean * (0.85 + 0.3 * rng.unit());
    // Rounding by chance keeps small scales (a test's few orders a day) true on average.
    let whole = expected.floor();
    let extra = if rng.unit() < expected - whole {
        1.0
    } else {
        0.0
    };
    (whole + extra) as u32
}

/// An order started at a random time of `date`'s trading hours; None when that is after `now`.
fn order_on(
    rng: &mut Rng,
    location: usize,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Option<PlannedOrder> {
    let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
    let hours = if weekend {
        &HOURS_WEEKEND
    } else {
        &HOURS_WEEKDAY
    };
    let hour = OPEN_HOUR + u32::try_from(rng.weighted(hours)).unwrap_or(0);
    let minute = u32::try_from(rng.below(60)).unwrap_or(0);
    let second = u32::try_from(rng.below(60)).unwrap_or(0);
    let local = date.and_hms_opt(hour, minute, second)?;
    let at = LOCATIONS[location]
        .tz
        .from_local_datetime(&local)
        .earliest()?
        .with_timezone(&Utc);
    (at <= now).then(|| order_at(rng, location, at, now))
}

/// The order of a guest (or party) arriving at `at`.
fn order_at(rng: &mut Rng, location: usize, at: DateTime<Utc>, now: DateTime<Utc>) -> PlannedOrder {
    let spec = &LOCATIONS[location];
    let local = at.with_timezone(&spec.tz);
    let lunch = local.hour() < 16;
    let takeout = rng.chance(if lunch { 0.4 } else { 0.25 });
    let party = if takeout {
        1 + rng.weighted(&[50, 35, 15])
    } else {
        1 + rng.weighted(&[10, 40, 15, 22, 6, 7])
    };
    let lines = lines(rng, party, takeout, lunch);
    let early_week = local.weekday().num_days_from_monday() < 4;
    let happy_hour = early_week && (17..19).contains(&local.hour()) && rng.chance(0.35);
    let estimate = estimate(&lines) * if happy_hour { 9 } else { 10 } / 10;
    let tips = if takeout {
        spec.takeout_tips
    } else {
        spec.dine_in_tips
    };
    let weights: Vec<u32> = tips.iter().map(|(_, w)| *w).collect();
    let tenths = tips[rng.weighted(&weights)].0;
    let tip_minor = (estimate * tenths / 1000 + 5) / 10 * 10;
    let customer = rng
        .chance(if takeout { 0.4 } else { 0.3 })
        .then(|| location * REGULARS + regular(rng));
    let settlement = settlement(rng, location, party, takeout, lines.len());
    let stay = if takeout {
        rng.minutes(2, 12)
    } else {
        rng.minutes(35, 65) + chrono::Duration::minutes(7 * i64::try_from(party).unwrap_or(1))
    };
    let outcome = if rng.chance(0.02) {
        Outcome::Cancelled {
            placed: rng.chance(0.6),
            reason: CANCEL_REASONS[rng.below(CANCEL_REASONS.len())],
        }
    } else if at + stay > now {
        Outcome::Live
    } else {
        let paid_at = at + stay;
        let refund = rng.chance(0.025).then(|| {
            let kind = if rng.chance(0.65) {
                RefundKind::Line(rng.below(lines.len()))
            } else {
                RefundKind::Full
            };
            refund_of(rng, kind, paid_at, now)
        });
        Outcome::Paid {
            at: paid_at,
            settlement,
            refund,
        }
    };
    PlannedOrder {
        location,
        at,
        channel: if takeout {
            Channel::Takeout
        } else {
            Channel::DineIn
        },
        table: (!takeout).then(|| 1 + rng.below(spec.tables)),
        party_size: (!takeout).then_some(party),
        customer,
        lines,
        happy_hour,
        tip_minor,
        outcome,
    }
}

/// A regular's index at a location: the first few come far more often (and reach Gold).
fn regular(rng: &mut Rng) -> usize {
    let weights: Vec<u32> = (0..REGULARS)
        .map(|i| u32::try_from(2 * REGULARS / (i + 1)).unwrap_or(1))
        .collect();
    rng.weighted(&weights)
}

fn settlement(
    rng: &mut Rng,
    location: usize,
    party: usize,
    takeout: bool,
    lines: usize,
) -> Settlement {
    let cash = LOCATIONS[location].cash_percent;
    if takeout || party < 2 {
        return if rng.weighted(&[100 - cash, cash]) == 0 {
            Settlement::Card
        } else {
            Settlement::Cash
        };
    }
    let by_lines = if lines >= 2 { 5 } else { 0 };
    match rng.weighted(&[70 - cash, cash, 7, 12, by_lines]) {
        0 => Settlement::Card,
        1 => Settlement::Cash,
        2 => Settlement::CardAndCash {
            cash_percent: [20, 30, 40, 50][rng.below(4)],
        },
        3 => Settlement::TwoCards {
            first_percent: [33, 40, 50, 60][rng.below(4)],
        },
        _ => Settlement::ByLines,
    }
}

/// A refund: same visit (minutes later) or a complaint a day or three on, never after `now`
/// and never before the bill's second payment.
fn refund_of(
    rng: &mut Rng,
    kind: RefundKind,
    paid_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> PlannedRefund {
    let delay = if rng.chance(0.5) {
        rng.minutes(5, 90)
    } else {
        rng.minutes(24 * 60, 3 * 24 * 60)
    };
    let at = (paid_at + delay.max(chrono::Duration::minutes(1))).min(now);
    let reasons = match kind {
        RefundKind::Full => FULL_REFUND_REASONS,
        RefundKind::Line(_) => LINE_REFUND_REASONS,
    };
    PlannedRefund {
        at,
        kind,
        reason: reasons[rng.below(reasons.len())],
    }
}

/// A line's dish: (product, variant, picks).
type LineKey = (usize, usize, Vec<(usize, usize)>);

fn lines(rng: &mut Rng, party: usize, takeout: bool, lunch: bool) -> Vec<PlannedLine> {
    let mut items = Vec::new();
    if takeout {
        for _ in 0..party {
            if rng.chance(0.85) {
                items.push(item(rng, Main));
            }
            if rng.chance(0.45) {
                items.push(item(rng, Side));
            }
            if rng.chance(0.6) {
                let course = if rng.chance(0.35) {
                    HotDrink
                } else {
                    SoftDrink
                };
                items.push(item(rng, course));
            }
        }
        if items.is_empty() {
            items.push(item(rng, Main));
        }
    } else {
        for _ in 0..party.div_ceil(2) {
            if rng.chance(if lunch { 0.15 } else { 0.45 }) {
                items.push(item(rng, Starter));
            }
        }
        for _ in 0..party {
            let course = if rng.chance(0.92) { Main } else { Side };
            items.push(item(rng, course));
            if rng.chance(0.3) {
                items.push(item(rng, Side));
            }
            if rng.chance(0.85) {
                let (hot, alcohol) = if lunch { (0.3, 0.15) } else { (0.08, 0.5) };
                let draw = rng.unit();
                let course = if draw < hot {
                    HotDrink
                } else if draw < hot + alcohol {
                    Alcohol
                } else {
                    SoftDrink
                };
                items.push(item(rng, course));
            }
            if rng.chance(if lunch { 0.12 } else { 0.3 }) {
                items.push(item(rng, Dessert));
            }
        }
    }
    // Two of the same dish with the same picks are one line of two, as a till rings them.
    let mut merged: BTreeMap<LineKey, i64> = BTreeMap::new();
    let mut order = Vec::new();
    for line in items {
        let key = (line.product, line.variant, line.modifiers);
        if !merged.contains_key(&key) {
            order.push(key.clone());
        }
        *merged.entry(key).or_default() += 1;
    }
    order
        .into_iter()
        .map(|key| {
            let quantity = merged.get(&key).copied().unwrap_or(1);
            PlannedLine {
                product: key.0,
                variant: key.1,
                modifiers: key.2,
                quantity,
            }
        })
        .collect()
}

fn item(rng: &mut Rng, course: Course) -> PlannedLine {
    let choices: Vec<usize> = (0..PRODUCTS.len())
        .filter(|&p| PRODUCTS[p].course == course)
        .collect();
    let weights: Vec<u32> = choices.iter().map(|&p| PRODUCTS[p].weight).collect();
    let product = choices[rng.weighted(&weights)];
    let spec = &PRODUCTS[product];
    let variant = match spec.variants.len() {
        1 => 0,
        2 => rng.weighted(&[65, 35]),
        _ => rng.weighted(&[50, 35, 15]),
    };
    let mut modifiers = Vec::new();
    for &group in spec.groups {
        let g = &GROUPS[group];
        let mut count = g.min;
        while count < g.max && rng.chance(g.extra) {
            count += 1;
        }
        let mut free: Vec<usize> = (0..g.modifiers.len()).collect();
        for _ in 0..count.min(free.len()) {
            modifiers.push((group, free.remove(rng.below(free.len()))));
        }
    }
    modifiers.sort_unstable();
    PlannedLine {
        product,
        variant,
        modifiers,
        quantity: 1,
    }
}

/// What the lines come to at list prices (the server prices them; the plan only needs it for
/// the tip).
fn estimate(lines: &[PlannedLine]) -> i64 {
    lines
        .iter()
        .map(|line| {
            let spec = &PRODUCTS[line.product];
            let deltas: i64 = line
                .modifiers
                .iter()
                .map(|&(g, m)| GROUPS[g].modifiers[m].1)
                .sum();
            (spec.variants[line.variant].1 + deltas) * line.quantity
        })
        .sum()
}

/// Makes sure a location shows each kind of event at least once, whatever the scale: the
/// rates alone give a small run (a test's week) no refund at all.
fn showcase(rng: &mut Rng, orders: &mut [PlannedOrder], now: DateTime<Utc>) {
    fn plain(order: &PlannedOrder) -> bool {
        matches!(
            order.outcome,
            Outcome::Paid {
                settlement: Settlement::Card,
                refund: None,
                ..
            }
        )
    }
    fn settled(order: &PlannedOrder, wanted: fn(Settlement) -> bool) -> bool {
        matches!(order.outcome, Outcome::Paid { settlement, .. } if wanted(settlement))
    }
    fn set_settlement(order: &mut PlannedOrder, to: Settlement) {
        if let Outcome::Paid { settlement, .. } = &mut order.outcome {
            *settlement = to;
        }
    }
    fn refunded(order: &PlannedOrder, full: bool) -> bool {
        matches!(&order.outcome, Outcome::Paid { refund: Some(r), .. }
                 if (r.kind == RefundKind::Full) == full)
    }
    ensure(
        rng,
        orders,
        1,
        |o| matches!(o.outcome, Outcome::Cancelled { .. }),
        plain,
        |_, o| {
            o.outcome = Outcome::Cancelled {
                placed: true,
                reason: CANCEL_REASONS[1],
            };
        },
    );
    ensure(
        rng,
        orders,
        1,
        |o| settled(o, |s| matches!(s, Settlement::CardAndCash { .. })),
        plain,
        |_, o| set_settlement(o, Settlement::CardAndCash { cash_percent: 40 }),
    );
    ensure(
        rng,
        orders,
        1,
        |o| settled(o, |s| matches!(s, Settlement::TwoCards { .. })),
        plain,
        |_, o| set_settlement(o, Settlement::TwoCards { first_percent: 50 }),
    );
    ensure(
        rng,
        orders,
        1,
        |o| settled(o, |s| s == Settlement::ByLines),
        |o| plain(o) && o.lines.len() >= 2,
        |_, o| set_settlement(o, Settlement::ByLines),
    );
    for full in [false, true] {
        ensure(
            rng,
            orders,
            1,
            |o| refunded(o, full),
            plain,
            |rng, o| {
                let kind = if full {
                    RefundKind::Full
                } else {
                    RefundKind::Line(0)
                };
                if let Outcome::Paid { at, refund, .. } = &mut o.outcome {
                    *refund = Some(refund_of(rng, kind, *at, now));
                }
            },
        );
    }
    ensure(
        rng,
        orders,
        3,
        |o| o.customer.is_some() && matches!(o.outcome, Outcome::Paid { .. }),
        plain,
        |rng, o| o.customer = Some(o.location * REGULARS + regular(rng)),
    );
}

/// Applies `apply` to random `candidate`s until `min` orders satisfy `has` (or none is left).
fn ensure(
    rng: &mut Rng,
    orders: &mut [PlannedOrder],
    min: usize,
    has: impl Fn(&PlannedOrder) -> bool,
    candidate: impl Fn(&PlannedOrder) -> bool,
    apply: impl Fn(&mut Rng, &mut PlannedOrder),
) {
    let mut count = orders.iter().filter(|o| has(o)).count();
    while count < min {
        let candidates: Vec<usize> = (0..orders.len())
            .filter(|&i| candidate(&orders[i]) && !has(&orders[i]))
            .collect();
        if candidates.is_empty() {
            return;
        }
        let chosen = candidates[rng.below(candidates.len())];
        apply(rng, &mut orders[chosen]);
        count += 1;
    }
}

/// A delivery at 08:00 on the first day of each week of history at each location, enough for
/// that week's sales of the tracked variants and a quarter more (one still to come, this
/// morning's, is dated now).
fn deliveries(orders: &[PlannedOrder], options: &PlanOptions) -> Vec<Delivery> {
    let weeks = usize::try_from(options.weeks.max(1)).unwrap_or(1);
    let mut all = Vec::new();
    for (l, spec) in LOCATIONS.iter().enumerate() {
        let today = options.now.with_timezone(&spec.tz).date_naive();
        let start = today - chrono::Duration::days(i64::try_from(weeks * 7).unwrap_or(7) - 1);
        let times: Vec<DateTime<Utc>> = (0..weeks)
            .filter_map(|w| {
                let date = start + chrono::Duration::days(i64::try_from(w * 7).ok()?);
                let at = spec
                    .tz
                    .from_local_datetime(&date.and_hms_opt(8, 0, 0)?)
                    .earliest()?
                    .with_timezone(&Utc);
                Some(at.min(options.now))
            })
            .collect();
        let mut sold: Vec<BTreeMap<(usize, usize), i64>> = vec![BTreeMap::new(); weeks];
        for order in orders.iter().filter(|o| o.location == l) {
            let day = (order.at.with_timezone(&spec.tz).date_naive() - start).num_days();
            let week = usize::try_from(day.max(0) / 7).unwrap_or(0).min(weeks - 1);
            for line in &order.lines {
                if PRODUCTS[line.product].tracked {
                    *sold[week].entry((line.product, line.variant)).or_default() += line.quantity;
                }
            }
        }
        for (week, at) in times.iter().enumerate() {
            let mut lines = Vec::new();
            for (p, spec) in PRODUCTS.iter().enumerate().filter(|(_, s)| s.tracked) {
                for v in 0..spec.variants.len() {
                    let sold = sold[week].get(&(p, v)).copied().unwrap_or(0);
                    // Whole cases of 12, a quarter over the week's sales.
                    let quantity = round_up(sold * 5 / 4 + 12, 12);
                    lines.push((p, v, quantity));
                }
            }
            all.push(Delivery {
                location: l,
                at: *at,
                lines,
            });
        }
    }
    all
}

// ---------------------------------------------------------------------------------------------
// The platform, over HTTP.

/// A non-2xx answer, whole, so a caller can act on its problem `code`.
#[derive(Debug)]
pub struct Refused {
    pub what: String,
    pub status: u16,
    pub body: Value,
}

impl Refused {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} answered {}: {}", self.what, self.status, self.body)
    }
}

impl std::error::Error for Refused {}

/// How a request is sent.
#[derive(Debug, Clone, Copy, Default)]
struct How<'a> {
    /// A fresh `Idempotency-Key`; a lost answer or a 5xx is then retried with the same key,
    /// and the platform answers the first attempt's result instead of doing it twice.
    key: bool,
    /// Retry even without a key: the request is safe to repeat anyway.
    retry: bool,
    /// `If-Match` with this version.
    if_match: Option<&'a str>,
}

/// The platform's HTTP API.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(base_url: &str) -> Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// One request (see [`How`]).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        how: How<'_>,
    ) -> Result<Value> {
        let key = how.key.then(|| Uuid::now_v7().to_string());
        let retry = how.retry || key.is_some();
        let what = format!("{method} {path}");
        let mut attempt = 1;
        loop {
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(key) = &key {
                request = request.header("idempotency-key", key);
            }
            if let Some(version) = how.if_match {
                request = request.header("if-match", format!("\"{version}\""));
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let answer = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    response.text().await.map(|text| (status, text))
                }
                Err(e) => Err(e),
            };
            let again = retry && attempt < ATTEMPTS;
            match answer {
                Ok((status, text)) => {
                    let in_progress = status == reqwest::StatusCode::CONFLICT
                        && text.contains("idempotency_request_in_progress");
                    if again && (status.is_server_error() || in_progress) {
                        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                        attempt += 1;
                        continue;
                    }
                    let body = if text.is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_str(&text).unwrap_or(Value::String(text))
                    };
                    if status.is_success() {
                        return Ok(body);
                    }
                    return Err(Refused {
                        what,
                        status: status.as_u16(),
                        body,
                    }
                    .into());
                }
                Err(_) if again => {
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                    attempt += 1;
                }
                Err(e) => return Err(anyhow!(e).context(what)),
            }
        }
    }

    /// A mutating POST with a fresh `Idempotency-Key` (retried safely).
    pub async fn post(&self, path: &str, token: &str, body: Option<&Value>) -> Result<Value> {
        let how = How {
            key: true,
            ..How::default()
        };
        self.send(reqwest::Method::POST, path, Some(token), body, how)
            .await
    }

    /// A POST that must not be repeated blindly (sign-up, sign-in, API keys: the platform
    /// keeps no replay of answers holding secrets).
    pub async fn post_once(&self, path: &str, token: Option<&str>, body: &Value) -> Result<Value> {
        self.send(
            reqwest::Method::POST,
            path,
            token,
            Some(body),
            How::default(),
        )
        .await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Result<Value> {
        let how = How {
            retry: true,
            ..How::default()
        };
        self.send(reqwest::Method::PUT, path, Some(token), Some(body), how)
            .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<Value> {
        let how = How {
            retry: true,
            ..How::default()
        };
        self.send(reqwest::Method::GET, path, token, None, how)
            .await
    }

    /// A PATCH of a resource at `version` (`If-Match`). Not retried: after a lost answer the
    /// version has moved on, and the retry would be a 412.
    pub async fn patch(
        &self,
        path: &str,
        token: &str,
        version: i64,
        body: &Value,
    ) -> Result<Value> {
        let version = version.to_string();
        let how = How {
            if_match: Some(&version),
            ..How::default()
        };
        self.send(reqwest::Method::PATCH, path, Some(token), Some(body), how)
            .await
    }
}

/// How a session signs in (again).
#[derive(Debug, Clone)]
enum Login {
    Password {
        tenant: String,
        email: String,
        password: String,
    },
    Pin {
        device_id: Uuid,
        email: String,
        pin: String,
    },
}

impl Login {
    async fn sign_in(&self, api: &Api) -> Result<String> {
        let answer = match self {
            Self::Password {
                tenant,
                email,
                password,
            } => {
                api.post_once(
                    "/v1/auth/login",
                    None,
                    &json!({"tenant": tenant, "email": email, "password": password}),
                )
                .await?
            }
            Self::Pin {
                device_id,
                email,
                pin,
            } => {
                api.post_once(
                    "/v1/auth/pin",
                    None,
                    &json!({"device_id": device_id, "email": email, "pin": pin}),
                )
                .await?
            }
        };
        text(&answer["access_token"])
    }
}

/// A signed-in user whose access token is renewed before it expires (a long seed outlives
/// the 15-minute tokens).
#[derive(Debug)]
struct Session {
    api: Api,
    login: Login,
    current: tokio::sync::Mutex<(String, Instant)>,
}

impl Session {
    fn with_token(api: &Api, login: Login, token: String) -> Self {
        Self {
            api: api.clone(),
            login,
            current: tokio::sync::Mutex::new((token, Instant::now())),
        }
    }

    async fn open(api: &Api, login: Login) -> Result<Self> {
        let token = login.sign_in(api).await?;
        Ok(Self::with_token(api, login, token))
    }

    async fn token(&self) -> Result<String> {
        let mut current = self.current.lock().await;
        if current.1.elapsed() > TOKEN_RENEW_AFTER {
            *current = (self.login.sign_in(&self.api).await?, Instant::now());
        }
        Ok(current.0.clone())
    }
}

fn text(value: &Value) -> Result<String> {
    value
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("expected a string, found {value}"))
}

fn id(value: &Value) -> Result<Uuid> {
    Uuid::try_parse(&text(&value["id"])?).with_context(|| format!("no id in {value}"))
}

fn minor(value: &Value, field: &str) -> Result<i64> {
    value[field]
        .as_i64()
        .with_context(|| format!("no {field} in {value}"))
}

// ---------------------------------------------------------------------------------------------
// Seeding.

/// What was seeded: enough to sign in, use the API key and find the demo's objects.
#[derive(Debug, Clone)]
pub struct Summary {
    pub base_url: String,
    pub tenant_id: Uuid,
    pub name: String,
    pub slug: String,
    /// The slug asked for, when it was taken and `slug` is the suffixed one.
    pub slug_taken: Option<String>,
    pub owner_name: String,
    pub owner_email: String,
    pub owner_password: String,
    pub staff: Vec<StaffMember>,
    pub locations: Vec<SeededLocation>,
    /// In the order of [`regulars`].
    pub customers: Vec<Uuid>,
    /// The Downtown regular with the most orders: (id, name).
    pub top_customer: Option<(Uuid, String)>,
    pub api_key: String,
    /// An API key that reads the analytics (`analytics:read` only).
    pub analytics_key: String,
    /// Shell variables of the README's quick tour: (name, value).
    pub tour: Vec<(&'static str, String)>,
    pub tally: Tally,
    pub weeks: u32,
    pub orders_per_day: u32,
    pub seed: u64,
    pub elapsed: Duration,
}

#[derive(Debug, Clone)]
pub struct StaffMember {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub role: String,
    pub pin: String,
    /// The location's name, or "everywhere".
    pub works_at: String,
}

#[derive(Debug, Clone)]
pub struct SeededLocation {
    pub id: Uuid,
    pub name: String,
    pub time_zone: String,
    pub currency: String,
    pub till: Uuid,
    pub kitchen_display: Uuid,
}

/// What the history came to.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub orders: usize,
    pub paid: usize,
    pub cancelled: usize,
    pub live: usize,
    pub payments: usize,
    pub refunds: usize,
}

#[derive(Debug, Default)]
struct Counters {
    done: AtomicUsize,
    payments: AtomicUsize,
    refunds: AtomicUsize,
}

/// The ids of the built catalog, indexed like [`PRODUCTS`] and [`GROUPS`].
#[derive(Debug)]
struct Catalog {
    categories: Vec<Uuid>,
    /// Per product, in [`PRODUCTS`] order.
    products: Vec<Uuid>,
    /// Per product, per variant.
    variants: Vec<Vec<Uuid>>,
    /// Per group, per modifier.
    modifiers: Vec<Vec<Uuid>>,
}

/// Where a location's orders are taken: its server's and manager's PIN sessions at its till.
#[derive(Debug)]
struct Till {
    location: Uuid,
    server: Session,
    manager: Session,
}

#[derive(Debug)]
struct World<'a> {
    api: &'a Api,
    slug: &'a str,
    now: DateTime<Utc>,
    catalog: &'a Catalog,
    tills: &'a [Till],
    customers: &'a [Uuid],
    counters: &'a Counters,
}

/// Seeds the demo tenant on the platform at `options.base_url`.
pub async fn seed(options: &Options) -> Result<Summary> {
    let started = Instant::now();
    let api = Api::new(&options.base_url)?;
    api.get("/healthz", None).await.with_context(|| {
        format!(
            "no platform answers at {} (start it with `make dev`, or pass --port)",
            options.base_url
        )
    })?;
    let now = Utc::now();
    let plan = plan(&PlanOptions {
        weeks: options.weeks,
        orders_per_day: options.orders_per_day,
        seed: options.seed,
        now,
    });
    let say = |what: &str| {
        if options.progress {
            eprintln!("seed: {what}");
        }
    };

    say("signing up the tenant");
    let (slug, tenant_id, owner_token, first_location) = sign_up(&api, &options.slug).await?;
    let owner_email = format!("owner@{slug}.example");
    let owner = Session::with_token(
        &api,
        Login::Password {
            tenant: slug.clone(),
            email: owner_email.clone(),
            password: OWNER_PASSWORD.to_owned(),
        },
        owner_token,
    );
    let location_ids = locations(&api, &owner, first_location).await?;

    say("building the menu");
    let catalog = catalog(&api, &owner, &location_ids).await?;
    for delivery in &plan.deliveries {
        receive(
            &api,
            &owner,
            &catalog,
            location_ids[delivery.location],
            delivery,
        )
        .await?;
    }

    say("inviting the staff");
    let (staff, devices) = staff(&api, &owner, &slug, &location_ids).await?;
    let mut tills = Vec::with_capacity(LOCATIONS.len());
    for (l, location) in location_ids.iter().enumerate() {
        let server = STAFF
            .iter()
            .position(|s| s.role == "staff" && s.location == Some(l))
            .context("every location has a server")?;
        let pin = |member: usize| Login::Pin {
            device_id: devices[l].0,
            email: staff[member].email.clone(),
            pin: staff[member].pin.clone(),
        };
        tills.push(Till {
            location: *location,
            server: Session::open(&api, pin(server)).await?,
            manager: Session::open(&api, pin(MANAGER)).await?,
        });
    }

    say("adding the regulars and the loyalty program");
    let token = owner.token().await?;
    api.put("/v1/loyalty/program", &token, &loyalty_program())
        .await?;
    let mut customers = Vec::new();
    for (i, regular) in regulars().iter().enumerate() {
        let mut body = json!({"name": regular.name, "email": regular.email,
                              "phone": regular.phone, "marketing_consent": i % 3 != 0});
        if i % 7 == 3 {
            body["allergens"] = json!(["peanuts"]);
        }
        if i % 5 == 0 {
            body["notes"] = json!("Likes the window booth");
        }
        customers.push(id(&api.post("/v1/customers", &token, Some(&body)).await?)?);
    }

    let counters = Counters::default();
    let world = World {
        api: &api,
        slug: &slug,
        now,
        catalog: &catalog,
        tills: &tills,
        customers: &customers,
        counters: &counters,
    };
    let indexed: Vec<(usize, &PlannedOrder)> = plan.orders.iter().enumerate().collect();
    let (live, history): (Vec<_>, Vec<_>) = indexed
        .into_iter()
        .partition(|(_, order)| order.outcome == Outcome::Live);
    say(&format!(
        "{} orders over {} weeks, {} at a time",
        history.len(),
        options.weeks,
        options.concurrency
    ));
    let history_started = Instant::now();
    run_orders(&world, &history, options, history_started).await?;
    if options.progress {
        eprintln!();
    }

    say("opening the kitchens");
    let token = owner.token().await?;
    for location in &location_ids {
        for (name, categories, default) in STATIONS {
            let categories: Vec<Uuid> = categories.iter().map(|&c| catalog.categories[c]).collect();
            api.post(
                "/v1/kitchen/stations",
                &token,
                Some(&json!({"location_id": location, "name": name,
                             "categories": categories, "is_default": default})),
            )
            .await?;
        }
    }
    run_orders(
        &world,
        &live,
        &Options {
            progress: false,
            ..options.clone()
        },
        Instant::now(),
    )
    .await?;

    let token = owner.token().await?;
    let api_key = text(
        &api.post_once(
            "/v1/api-keys",
            Some(&token),
            &json!({"name": "Demo till", "scopes": API_KEY_SCOPES}),
        )
        .await?["key"],
    )?;

    let analytics_key = text(
        &api.post_once(
            "/v1/api-keys",
            Some(&token),
            &json!({"name": "Demo analytics", "scopes": ANALYTICS_KEY_SCOPES}),
        )
        .await?["key"],
    )?;
    // The analytics endpoints answer from the rollups and the co-purchase pairs: build them
    // now rather than at the jobs' next tick, so the tour's figures are there at once.
    for job in ANALYTICS_JOBS {
        api.post_once(&format!("/jobs/{job}"), None, &json!({}))
            .await
            .with_context(|| format!("running {job} after the seed"))?;
    }

    let regulars = regulars();
    let top_customer = (0..REGULARS)
        .max_by_key(|&c| {
            let paid = plan
                .orders
                .iter()
                .filter(|o| o.customer == Some(c) && matches!(o.outcome, Outcome::Paid { .. }))
                .count();
            // The first of equals: max_by_key keeps the last maximum.
            (paid, REGULARS - c)
        })
        .map(|c| (customers[c], regulars[c].name.clone()));
    // A regular of middling habits, who has not tried everything: the tour asks what to
    // recommend them (the top regular has bought the whole menu).
    let paid_orders = |c: usize| {
        plan.orders
            .iter()
            .filter(|o| o.customer == Some(c) && matches!(o.outcome, Outcome::Paid { .. }))
            .count()
    };
    let mut by_habit: Vec<usize> = (0..REGULARS).collect();
    by_habit.sort_by_key(|&c| (paid_orders(c), c));
    let middling_regular = by_habit.get(REGULARS / 2).map(|&c| customers[c]);
    let tally = Tally {
        orders: plan.orders.len(),
        paid: plan
            .orders
            .iter()
            .filter(|o| matches!(o.outcome, Outcome::Paid { .. }))
            .count(),
        cancelled: plan
            .orders
            .iter()
            .filter(|o| matches!(o.outcome, Outcome::Cancelled { .. }))
            .count(),
        live: live.len(),
        payments: counters.payments.load(Ordering::Relaxed),
        refunds: counters.refunds.load(Ordering::Relaxed),
    };
    let locations = LOCATIONS
        .iter()
        .zip(&location_ids)
        .zip(&devices)
        .map(|((spec, id), (till, display))| SeededLocation {
            id: *id,
            name: spec.name.to_owned(),
            time_zone: spec.tz.name().to_owned(),
            currency: spec.currency.to_owned(),
            till: *till,
            kitchen_display: *display,
        })
        .collect::<Vec<_>>();
    let variant = |sku: &str, v: usize| {
        PRODUCTS
            .iter()
            .position(|p| p.sku == sku)
            .map(|p| catalog.variants[p][v].to_string())
            .unwrap_or_default()
    };
    let product = |sku: &str| {
        PRODUCTS
            .iter()
            .position(|p| p.sku == sku)
            .map(|p| catalog.products[p].to_string())
            .unwrap_or_default()
    };
    let modifier = |group: &str, name: &str| {
        GROUPS
            .iter()
            .position(|g| g.name == group)
            .and_then(|g| {
                let m = GROUPS[g].modifiers.iter().position(|(n, _)| *n == name)?;
                Some(catalog.modifiers[g][m].to_string())
            })
            .unwrap_or_default()
    };
    let tour = vec![
        ("OLY", options.base_url.clone()),
        ("KEY", api_key.clone()),
        ("ANALYTICS_KEY", analytics_key.clone()),
        ("DOWNTOWN", locations[0].id.to_string()),
        ("HARBOUR", locations[1].id.to_string()),
        ("DOWNTOWN_TILL", locations[0].till.to_string()),
        (
            "SERVER",
            staff
                .iter()
                .find(|m| m.role == "staff" && m.works_at == LOCATIONS[0].name)
                .map(|m| m.email.clone())
                .unwrap_or_default(),
        ),
        ("BURGER", variant("BURGER", 0)),
        ("BURGER_PRODUCT", product("BURGER")),
        ("LAGER", variant("LAGER", 0)),
        ("MEDIUM", modifier("Cooking", "Medium")),
        ("BACON", modifier("Burger extras", "Bacon")),
        ("FRIES", variant("FRIES", 0)),
        ("LATTE", variant("LATTE", 0)),
        ("OAT", modifier("Milk", "Oat milk")),
        (
            "CUSTOMER",
            top_customer
                .as_ref()
                .map(|(id, _)| id.to_string())
                .unwrap_or_default(),
        ),
        (
            "REGULAR",
            middling_regular
                .map(|id| id.to_string())
                .unwrap_or_default(),
        ),
    ];
    let summary = Summary {
        base_url: options.base_url.clone(),
        tenant_id,
        name: TENANT_NAME.to_owned(),
        slug_taken: (slug != options.slug).then(|| options.slug.clone()),
        slug,
        owner_name: "Morgan Hale".to_owned(),
        owner_email,
        owner_password: OWNER_PASSWORD.to_owned(),
        staff,
        locations,
        customers,
        top_customer,
        api_key,
        analytics_key,
        tour,
        tally,
        weeks: options.weeks,
        orders_per_day: options.orders_per_day,
        seed: options.seed,
        elapsed: started.elapsed(),
    };
    if let Some(path) = &options.env_file {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, summary.env_file())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(summary)
}

/// Signs up the tenant under `slug`, or the first free `slug-N`: (slug, tenant, token,
/// first location).
async fn sign_up(api: &Api, wanted: &str) -> Result<(String, Uuid, String, Uuid)> {
    for n in 1..=50 {
        let slug = if n == 1 {
            wanted.to_owned()
        } else {
            format!("{wanted}-{n}")
        };
        let body = json!({
            "name": TENANT_NAME,
            "slug": slug,
            "industry": "restaurant",
            "currency": LOCATIONS[0].currency,
            "time_zone": LOCATIONS[0].tz.name(),
            "plan": "pro",
            "owner": {"name": "Morgan Hale", "email": format!("owner@{slug}.example"),
                      "password": OWNER_PASSWORD},
            "location": {"name": LOCATIONS[0].name},
        });
        match api.post_once("/v1/tenants", None, &body).await {
            Ok(answer) => {
                return Ok((
                    slug,
                    id(&answer["tenant"])?,
                    text(&answer["tokens"]["access_token"])?,
                    id(&answer["location"])?,
                ));
            }
            Err(e)
                if e.downcast_ref::<Refused>()
                    .is_some_and(|r| r.code() == "slug_taken") => {}
            Err(e) => return Err(e),
        }
    }
    bail!("the slugs {wanted} to {wanted}-50 are all taken: pass another --slug")
}

/// The first location's address and hours, then the others: their ids, like [`LOCATIONS`].
async fn locations(api: &Api, owner: &Session, first: Uuid) -> Result<Vec<Uuid>> {
    let token = owner.token().await?;
    let mut ids = Vec::with_capacity(LOCATIONS.len());
    for (l, spec) in LOCATIONS.iter().enumerate() {
        let (line1, city, postcode, country) = spec.address;
        let mut body = json!({
            "address": {"line1": line1, "city": city, "postcode": postcode, "country": country},
            "business_hours": business_hours(),
        });
        if l == 0 {
            // Sign-up made it with a name only, at version 1.
            api.patch(&format!("/v1/locations/{first}"), &token, 1, &body)
                .await?;
            ids.push(first);
        } else {
            body["name"] = json!(spec.name);
            body["time_zone"] = json!(spec.tz.name());
            body["currency"] = json!(spec.currency);
            ids.push(id(&api.post("/v1/locations", &token, Some(&body)).await?)?);
        }
    }
    Ok(ids)
}

fn business_hours() -> Value {
    let day = json!([["11:00", "23:00"]]);
    json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": [["11:00", "23:30"]],
           "sat": [["10:30", "23:30"]], "sun": [["10:30", "22:00"]]})
}

/// Tax rates, categories, modifier groups, products and the all-day menu.
async fn catalog(api: &Api, owner: &Session, locations: &[Uuid]) -> Result<Catalog> {
    let token = owner.token().await?;
    for (spec, location) in LOCATIONS.iter().zip(locations) {
        let (name, rate_bps, inclusive) = spec.tax;
        api.post(
            "/v1/tax-rates",
            &token,
            Some(
                &json!({"name": name, "tax_category": "standard", "rate_bps": rate_bps,
                         "inclusive": inclusive, "location_id": location}),
            ),
        )
        .await?;
    }
    let mut categories: Vec<Uuid> = Vec::with_capacity(CATEGORIES.len());
    for (name, parent) in CATEGORIES {
        let mut body = json!({"name": name});
        if let Some(parent) = parent {
            body["parent_id"] = json!(categories[*parent]);
        }
        categories.push(id(&api
            .post("/v1/categories", &token, Some(&body))
            .await?)?);
    }
    let mut groups = Vec::with_capacity(GROUPS.len());
    let mut modifiers = Vec::with_capacity(GROUPS.len());
    for group in GROUPS {
        let answer = api
            .post(
                "/v1/modifier-groups",
                &token,
                Some(&json!({
                    "name": group.name,
                    "min_selections": group.min,
                    "max_selections": group.max,
                    "modifiers": group.modifiers.iter()
                        .map(|(name, delta)| json!({"name": name, "price_delta_minor": delta}))
                        .collect::<Vec<_>>(),
                })),
            )
            .await?;
        groups.push(id(&answer)?);
        modifiers.push(
            answer["modifiers"]
                .as_array()
                .context("no modifiers in the group")?
                .iter()
                .map(id)
                .collect::<Result<Vec<_>>>()?,
        );
    }
    let mut variants = Vec::with_capacity(PRODUCTS.len());
    let mut products = Vec::with_capacity(PRODUCTS.len());
    for spec in PRODUCTS {
        let mut body = json!({
            "name": spec.name,
            "category_id": categories[spec.category],
            "modifier_group_ids": spec.groups.iter().map(|&g| groups[g]).collect::<Vec<_>>(),
            "dietary_tags": spec.tags,
            "allergens": spec.allergens,
        });
        if let [("", price)] = spec.variants {
            body["price_minor"] = json!(price);
            body["sku"] = json!(spec.sku);
            body["track_inventory"] = json!(spec.tracked);
        } else {
            body["options"] = json!([{"name": "Size",
                "values": spec.variants.iter().map(|(value, _)| value).collect::<Vec<_>>()}]);
            body["variants"] = spec
                .variants
                .iter()
                .map(|(value, price)| {
                    json!({"option_values": {"Size": value}, "price_minor": price,
                           "sku": variant_sku(spec.sku, value), "track_inventory": spec.tracked})
                })
                .collect();
        }
        let answer = api.post("/v1/products", &token, Some(&body)).await?;
        products.push(id(&answer)?);
        let made = answer["variants"]
            .as_array()
            .context("no variants in the product")?;
        // Matched by SKU, not position: the answer's order is the catalog's, not the request's.
        let ids = spec
            .variants
            .iter()
            .map(|(value, _)| {
                let sku = if value.is_empty() {
                    spec.sku.to_owned()
                } else {
                    variant_sku(spec.sku, value)
                };
                made.iter()
                    .find(|v| v["sku"] == sku.as_str())
                    .context("a variant is missing from the product")
                    .and_then(id)
            })
            .collect::<Result<Vec<_>>>()?;
        variants.push(ids);
    }
    api.post(
        "/v1/menus",
        &token,
        Some(&json!({"name": "All day", "category_ids": categories})),
    )
    .await?;
    Ok(Catalog {
        categories,
        products,
        variants,
        modifiers,
    })
}

fn variant_sku(product: &str, value: &str) -> String {
    let value: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{product}-{value}")
}

async fn receive(
    api: &Api,
    owner: &Session,
    catalog: &Catalog,
    location: Uuid,
    delivery: &Delivery,
) -> Result<()> {
    let lines: Vec<Value> = delivery
        .lines
        .iter()
        .map(|&(p, v, quantity)| {
            json!({"variant_id": catalog.variants[p][v], "kind": "receive", "quantity": quantity})
        })
        .collect();
    api.post(
        "/v1/inventory/adjustments",
        &owner.token().await?,
        Some(&json!({"location_id": location, "occurred_at": delivery.at,
                     "reason": "Weekly delivery", "lines": lines})),
    )
    .await
    .map(|_| ())
}

/// The kitchen role, the staff (invited, invite accepted through the dev mailbox, PIN set)
/// and a till and a kitchen display per location: (staff, [(till, display)]).
async fn staff(
    api: &Api,
    owner: &Session,
    slug: &str,
    locations: &[Uuid],
) -> Result<(Vec<StaffMember>, Vec<(Uuid, Uuid)>)> {
    let token = owner.token().await?;
    api.post(
        "/v1/roles",
        &token,
        Some(
            &json!({"name": "kitchen", "description": "The kitchen display and the menu.",
                     "permissions": KITCHEN_PERMISSIONS}),
        ),
    )
    .await?;
    let mut members = Vec::with_capacity(STAFF.len());
    for spec in STAFF {
        let email = format!("{}@{slug}.example", spec.local);
        let mut grant = json!({"role": spec.role});
        if let Some(l) = spec.location {
            grant["location_ids"] = json!([locations[l]]);
        }
        let answer = api
            .post(
                "/v1/users",
                &token,
                Some(&json!({"email": email, "name": spec.name, "roles": [grant]})),
            )
            .await?;
        members.push(StaffMember {
            user_id: id(&answer["user"])?,
            name: spec.name.to_owned(),
            email,
            role: spec.role.to_owned(),
            pin: spec.pin.to_owned(),
            works_at: spec
                .location
                .map_or("everywhere", |l| LOCATIONS[l].name)
                .to_owned(),
        });
    }
    let emails: Vec<&str> = members.iter().map(|m| m.email.as_str()).collect();
    let tokens = invite_tokens(api, &emails).await?;
    for (member, invite) in members.iter().zip(tokens) {
        api.post_once(
            "/v1/auth/invite/accept",
            None,
            &json!({"token": invite, "password": STAFF_PASSWORD}),
        )
        .await?;
        api.put(
            &format!("/v1/users/{}/pin", member.user_id),
            &token,
            &json!({"pin": member.pin}),
        )
        .await?;
    }
    let mut devices = Vec::with_capacity(locations.len());
    for (spec, location) in LOCATIONS.iter().zip(locations) {
        let path = format!("/v1/locations/{location}/devices");
        let till = api
            .post(
                &path,
                &token,
                Some(&json!({"name": format!("{} till", spec.name)})),
            )
            .await?;
        let display = api
            .post(
                &path,
                &token,
                Some(&json!({"name": format!("{} kitchen display", spec.name)})),
            )
            .await?;
        devices.push((id(&till)?, id(&display)?));
    }
    Ok((members, devices))
}

/// The invite tokens mailed to `emails`, read from the dev runner's mailbox (`GET
/// /dev/mailbox`) as the invite events reach the mailer.
async fn invite_tokens(api: &Api, emails: &[&str]) -> Result<Vec<String>> {
    let deadline = Instant::now() + MAILBOX_WAIT;
    loop {
        let mailbox = api.get("/dev/mailbox", None).await?;
        let messages = mailbox["messages"].as_array().cloned().unwrap_or_default();
        let found: Vec<Option<String>> = emails
            .iter()
            .map(|email| {
                messages
                    .iter()
                    .find(|m| m["mail"]["to"] == *email)
                    .and_then(|m| {
                        let body = m["mail"]["text"].as_str()?;
                        let link = body
                            .split_whitespace()
                            .find(|word| word.contains("/accept-invite?token="))?;
                        Some(link.split_once("token=")?.1.to_owned())
                    })
            })
            .collect();
        if found.iter().all(Option::is_some) {
            return Ok(found.into_iter().flatten().collect());
        }
        if Instant::now() > deadline {
            bail!(
                "no invite mail reached the dev mailbox (GET /dev/mailbox) within {} s: the seed \
                 needs the dev runner's mailbox (is SMTP_URL set?) and its event delivery",
                MAILBOX_WAIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn loyalty_program() -> Value {
    json!({
        "points_per_unit": 1,
        "rounding": "down",
        "tiers": [{"name": "Member", "threshold": 0, "multiplier": 1},
                  {"name": "Silver", "threshold": 250, "multiplier": 1.25},
                  {"name": "Gold", "threshold": 750, "multiplier": 1.5}],
        "rewards": [{"id": "free-coffee", "name": "Free coffee", "points": 150,
                     "discount": {"type": "fixed", "amount_minor": 350}},
                    {"id": "ten-percent", "name": "10 % off the bill", "points": 400,
                     "discount": {"type": "percent", "percent": 10}}],
        "points_expire_days": 365,
    })
}

/// Runs `orders` with `options.concurrency` in flight; the first failure stops the run.
async fn run_orders(
    world: &World<'_>,
    orders: &[(usize, &PlannedOrder)],
    options: &Options,
    started: Instant,
) -> Result<()> {
    let total = orders.len();
    let step = (total / 100).max(1);
    futures::stream::iter(orders.iter().map(Ok))
        .try_for_each_concurrent(options.concurrency, |(index, order)| async move {
            execute(world, *index, order)
                .await
                .with_context(|| format!("order {index} of the plan"))?;
            let done = world.counters.done.fetch_add(1, Ordering::Relaxed) + 1;
            if options.progress && (done.is_multiple_of(step) || done == total) {
                let rate = done as f64 / started.elapsed().as_secs_f64().max(0.001);
                eprint!("\rseed: {done}/{total} orders ({rate:.0}/s)   ");
            }
            Ok::<(), anyhow::Error>(())
        })
        .await?;
    world.counters.done.store(0, Ordering::Relaxed);
    Ok(())
}

/// One order as a till takes it: rung up (and placed), then paid, completed and perhaps
/// refunded, or cancelled, each step with the plan's client time.
async fn execute(world: &World<'_>, index: usize, order: &PlannedOrder) -> Result<()> {
    let till = &world.tills[order.location];
    let token = till.server.token().await?;
    let place = !matches!(order.outcome, Outcome::Cancelled { placed: false, .. });
    let body = order_body(world, till, index, order, place);
    let created = world.api.post("/v1/orders", &token, Some(&body)).await?;
    let order_id = id(&created)?;
    match &order.outcome {
        Outcome::Live => {}
        Outcome::Cancelled { reason, .. } => {
            world
                .api
                .post(
                    &format!("/v1/orders/{order_id}/cancel"),
                    &token,
                    Some(&json!({"reason": reason})),
                )
                .await?;
        }
        Outcome::Paid {
            at,
            settlement,
            refund,
        } => {
            let payments = pay(world, &token, index, &created, *at, *settlement).await?;
            world
                .api
                .post(&format!("/v1/orders/{order_id}/complete"), &token, None)
                .await?;
            if let Some(refund) = refund {
                give_back(world, till, order, &created, &payments, refund).await?;
            }
        }
    }
    Ok(())
}

fn order_body(
    world: &World<'_>,
    till: &Till,
    index: usize,
    order: &PlannedOrder,
    place: bool,
) -> Value {
    let catalog = world.catalog;
    let lines: Vec<Value> = order
        .lines
        .iter()
        .map(|line| {
            json!({
                "variant_id": catalog.variants[line.product][line.variant],
                "quantity": line.quantity,
                "modifiers": line.modifiers.iter()
                    .map(|&(g, m)| json!({"modifier_id": catalog.modifiers[g][m]}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    let discounts = if order.happy_hour {
        json!([{"kind": "percent", "bps": 1000, "name": "Happy hour"}])
    } else {
        json!([])
    };
    json!({
        "location_id": till.location,
        "channel": match order.channel { Channel::DineIn => "dine_in", Channel::Takeout => "takeout" },
        "source": "pos",
        "table": order.table.map(|t| t.to_string()),
        "party_size": order.party_size,
        "customer_id": order.customer.and_then(|c| world.customers.get(c)),
        "lines": lines,
        "discounts": discounts,
        "tip_minor": order.tip_minor,
        "created_at": order.at,
        // What an offline till sends so a replay days later finds the same order.
        "client_order_id": format!("{}-{index:05}", world.slug),
        "place": place,
    })
}

/// A cash amount handed over: the next 5 (or 10 above 50) in major units.
fn tendered(amount: i64) -> i64 {
    let note = if amount > 5000 { 1000 } else { 500 };
    round_up(amount, note)
}

/// `amount` rounded up to a multiple of `step` (both positive).
fn round_up(amount: i64, step: i64) -> i64 {
    (amount + step - 1) / step * step
}

/// Pays `order` as `settlement` says: the answers of its payments (`id`, `amount_minor`).
async fn pay(
    world: &World<'_>,
    token: &str,
    index: usize,
    order: &Value,
    at: DateTime<Utc>,
    settlement: Settlement,
) -> Result<Vec<Value>> {
    let order_id = id(order)?;
    let total = minor(order, "total_minor")?;
    let second_at = (at + chrono::Duration::seconds(45)).min(world.now);
    // A share rounded to whole units, leaving something for the second tender.
    let share = |percent: i64| (total * percent / 100 / 100 * 100).clamp(1, (total - 1).max(1));
    let card = |k: usize, when: DateTime<Utc>| {
        let n = index * 7 + k * 3;
        json!({"tender": "card", "reference": format!("demo_{index}_{k}"),
               "card_brand": CARD_BRANDS[n % CARD_BRANDS.len()],
               "card_last4": format!("{:04}", (index * 7919 + k * 104_729) % 10_000),
               "created_at": when})
    };
    let mut bodies = Vec::new();
    match settlement {
        _ if total < 2 => bodies.push(card(0, at)),
        Settlement::Card => bodies.push(card(0, at)),
        Settlement::Cash => bodies.push(json!({"tender": "cash",
            "tendered_minor": tendered(total), "created_at": at})),
        Settlement::CardAndCash { cash_percent } => {
            let cash = share(cash_percent);
            bodies.push(json!({"tender": "cash", "amount_minor": cash,
                               "tendered_minor": tendered(cash), "created_at": at}));
            bodies.push(card(1, second_at));
        }
        Settlement::TwoCards { first_percent } => {
            let mut first = card(0, at);
            first["amount_minor"] = json!(share(first_percent));
            bodies.push(first);
            bodies.push(card(1, second_at));
        }
        Settlement::ByLines => {
            let lines = order["lines"].as_array().context("no lines in the order")?;
            let half: Vec<Value> = lines[..lines.len().div_ceil(2)]
                .iter()
                .map(|line| line["id"].clone())
                .collect();
            let mut first = card(0, at);
            first["line_ids"] = json!(half);
            bodies.push(first);
            bodies.push(card(1, second_at));
        }
    }
    let mut payments = Vec::with_capacity(bodies.len());
    for body in &bodies {
        let payment = world
            .api
            .post(
                &format!("/v1/orders/{order_id}/payments"),
                token,
                Some(body),
            )
            .await?;
        world.counters.payments.fetch_add(1, Ordering::Relaxed);
        let settled = minor(&payment["order"], "balance_minor")? <= 0;
        payments.push(payment);
        if settled {
            break;
        }
    }
    Ok(payments)
}

/// A manager's refund at the till: every payment in full, or one line's total from the
/// largest payment with its stock back when the line is tracked.
async fn give_back(
    world: &World<'_>,
    till: &Till,
    planned: &PlannedOrder,
    order: &Value,
    payments: &[Value],
    refund: &PlannedRefund,
) -> Result<()> {
    let token = till.manager.token().await?;
    let mut bodies = Vec::new();
    match refund.kind {
        RefundKind::Full => {
            for payment in payments {
                bodies.push((
                    id(payment)?,
                    json!({"reason": refund.reason, "created_at": refund.at}),
                ));
            }
        }
        RefundKind::Line(k) => {
            let lines = order["lines"].as_array().context("no lines in the order")?;
            let k = k % lines.len().max(1);
            let line = lines.get(k).context("no lines in the order")?;
            let largest = payments
                .iter()
                .max_by_key(|p| p["amount_minor"].as_i64().unwrap_or(0))
                .context("no payments to refund")?;
            let amount = minor(line, "total_minor")?.min(minor(largest, "amount_minor")?);
            let mut body = json!({"reason": refund.reason, "amount_minor": amount,
                                  "created_at": refund.at});
            let tracked = planned
                .lines
                .get(k)
                .is_some_and(|l| PRODUCTS[l.product].tracked);
            if tracked {
                body["restock"] = json!([{"line_id": line["id"], "quantity": line["quantity"]}]);
            }
            if amount > 0 {
                bodies.push((id(largest)?, body));
            }
        }
    }
    for (payment, body) in bodies {
        world
            .api
            .post(
                &format!("/v1/payments/{payment}/refunds"),
                &token,
                Some(&body),
            )
            .await?;
        world.counters.refunds.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

impl Summary {
    /// `export NAME=value` lines of the quick tour, for `source`.
    pub fn env_file(&self) -> String {
        let mut out = format!(
            "# Written by `dev seed` for tenant {} ({}): source it, then follow the README's \
             quick tour.\n",
            self.slug, self.name
        );
        for (name, value) in &self.tour {
            let _ = writeln!(out, "export {name}={value}");
        }
        out
    }

    /// The summary on stdout: who signs in how, where things are, what to try.
    #[allow(clippy::print_stdout)]
    pub fn print(&self) {
        println!();
        println!(
            "Demo tenant {} (slug {}) on {} — seeded in {:.1} s",
            self.name,
            self.slug,
            self.base_url,
            self.elapsed.as_secs_f64()
        );
        if let Some(wanted) = &self.slug_taken {
            println!(
                "  (slug {wanted} was taken by an earlier seed: this one is {})",
                self.slug
            );
        }
        println!("  tenant      {}", self.tenant_id);
        println!(
            "  owner       {} <{}>  password: {}",
            self.owner_name, self.owner_email, self.owner_password
        );
        println!("  locations");
        for location in &self.locations {
            println!(
                "    {:<9} {}  {:<17} {}  till device {}  kitchen display {}",
                location.name,
                location.id,
                location.time_zone,
                location.currency,
                location.till,
                location.kitchen_display
            );
        }
        println!(
            "  staff       (PIN at a device: POST /v1/auth/pin {{\"device_id\", \"email\", \"pin\"}}; password {STAFF_PASSWORD})"
        );
        for member in &self.staff {
            println!(
                "    {:<13} {:<8} {:<24} PIN {}  {}",
                member.name, member.role, member.email, member.pin, member.works_at
            );
        }
        let t = &self.tally;
        println!(
            "  history     {} weeks, {} orders ({} paid, {} cancelled, {} still on the floor), \
             {} payments, {} refunds, {} regulars (seed {}, {} orders a day per location)",
            self.weeks,
            t.orders,
            t.paid,
            t.cancelled,
            t.live,
            t.payments,
            t.refunds,
            self.customers.len(),
            self.seed,
            self.orders_per_day
        );
        if let Some((id, name)) = &self.top_customer {
            println!("  top regular {name} {id} (points arrive as sales.order.paid is delivered)");
        }
        println!("  api key     {}", self.api_key);
        println!("  analytics   {} (analytics:read)", self.analytics_key);
        println!("  try it (the README's quick tour):");
        let vars: Vec<String> = self.tour.iter().map(|(n, v)| format!("{n}={v}")).collect();
        println!("    export {}", vars.join(" "));
        println!(
            "    curl -s \"$OLY/v1/orders?location_id=$DOWNTOWN&limit=5\" -H \"Authorization: Bearer $KEY\""
        );
        println!(
            "    curl -s \"$OLY/v1/kitchen/tickets?location=$DOWNTOWN\" -H \"Authorization: Bearer $KEY\""
        );
        println!(
            "    curl -s \"$OLY/v1/customers/$CUSTOMER/loyalty\" -H \"Authorization: Bearer $KEY\""
        );
        println!(
            "    curl -s $OLY/v1/auth/login -H 'content-type: application/json' -d '{{\"tenant\":\"{}\",\"email\":\"{}\",\"password\":\"{}\"}}'",
            self.slug, self.owner_email, self.owner_password
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(seed: u64) -> PlanOptions {
        PlanOptions {
            weeks: 2,
            orders_per_day: 12,
            seed,
            now: "2025-03-07T21:30:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_generator_is_splitmix64() {
        // The reference outputs of SplitMix64 seeded with 1234567.
        let mut rng = Rng::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn the_plan_is_a_function_of_its_options() {
        let plan_a = plan(&options(7));
        assert_eq!(plan_a, plan(&options(7)));
        assert_ne!(plan_a.orders, plan(&options(8)).orders);
    }

    #[test]
    fn times_stay_in_order_and_in_the_past() {
        let options = options(3);
        let plan = plan(&options);
        for order in &plan.orders {
            assert!(order.at <= options.now);
            assert!(!order.lines.is_empty());
            if let Outcome::Paid { at, refund, .. } = &order.outcome {
                assert!(*at >= order.at && *at <= options.now);
                if let Some(refund) = refund {
                    assert!(refund.at >= *at && refund.at <= options.now);
                }
            }
        }
        for location in 0..LOCATIONS.len() {
            let mine: Vec<_> = plan
                .orders
                .iter()
                .filter(|o| o.location == location)
                .collect();
            assert!(mine.iter().filter(|o| o.outcome == Outcome::Live).count() >= 2);
        }
    }

    #[test]
    fn deliveries_cover_what_is_sold() {
        let plan = plan(&options(5));
        for (l, _) in LOCATIONS.iter().enumerate() {
            let mut received: BTreeMap<(usize, usize), i64> = BTreeMap::new();
            for delivery in plan.deliveries.iter().filter(|d| d.location == l) {
                for &(p, v, q) in &delivery.lines {
                    *received.entry((p, v)).or_default() += q;
                }
            }
            for order in plan.orders.iter().filter(|o| o.location == l) {
                for line in order.lines.iter().filter(|l| PRODUCTS[l.product].tracked) {
                    *received.entry((line.product, line.variant)).or_default() -= line.quantity;
                }
            }
            assert!(received.values().all(|left| *left >= 0), "{received:?}");
        }
    }

    #[test]
    fn cash_is_handed_over_in_notes() {
        assert_eq!(tendered(1234), 1500);
        assert_eq!(tendered(500), 500);
        assert_eq!(tendered(6010), 7000);
    }
}
