//! Product reads cached in the instance and never answered stale: the hot path of
//! `GET /v1/products/{id}` (tills and order pricing read the same products all day).
//!
//! Every catalog write takes the next number from its tenant's change counter (the change
//! feed's `change_seq`), so an unchanged counter means an unchanged catalog. An entry keeps the
//! counter value its product was read at; a hit is answered only after one statement
//! (`catalog.tenant_change_seq`, V5) confirms the counter has not moved, which also makes a
//! write on another instance visible at once. Any catalog write of the tenant therefore costs
//! each of its cached products one miss, which at catalog write rates is noise.
//!
//! A miss reads the product with [`super::read_products`] (one round trip), serialises it once
//! and stores the bytes, so a hit does no JSON work either. Entries are keyed by tenant and
//! product and filled only by reads under that tenant's RLS, so no tenant can see another's
//! entry. The cache is bounded by the bytes it holds (least-recently-used entries go first).
//!
//! Freshness checks are coalesced per tenant, the way a group commit batches fsyncs: one check
//! runs at a time, and every hit that arrives while it runs waits for the *next* check, which
//! starts after that hit arrived and so sees every write committed before it (read-your-writes
//! across instances holds). Under load one check answers a whole batch of hits, and a waiting
//! hit needs no database connection at all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::HeaderValue;
use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use tokio::sync::Notify;
use uuid::Uuid;

use super::read_products;
use crate::db::Pool;
use crate::error::Error;
use crate::http::versioning::etag;

/// The statement of a freshness check.
const TENANT_CHANGE_SEQ: &str = "SELECT catalog.tenant_change_seq($1)";

/// Bytes of serialised products one instance keeps by default (a product with three variants
/// is about 1.5 KiB, so some 20 000 products).
pub const DEFAULT_CAPACITY_BYTES: u64 = 32 * 1024 * 1024;

/// One product as `GET /v1/products/{id}` answers it.
#[derive(Debug)]
pub struct CachedProduct {
    /// The tenant's change counter when the product was read.
    pub seq: i64,
    /// The product's `version`.
    pub version: i32,
    /// `"<version>"`, for `If-Match` on `PATCH /v1/products/{id}`.
    pub etag: HeaderValue,
    /// The product serialised as JSON.
    pub body: Bytes,
}

/// How a read was answered, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// From the cache, after a freshness check.
    Hit,
    /// Read from the database (absent, or the catalog changed since).
    Miss,
}

#[derive(Clone)]
struct BodyBytes;

impl Weighter<(Uuid, Uuid), Arc<CachedProduct>> for BodyBytes {
    fn weight(&self, _: &(Uuid, Uuid), product: &Arc<CachedProduct>) -> u64 {
        // Keys, counters and bookkeeping come on top of the body; 128 bytes covers them.
        product.body.len() as u64 + 128
    }
}

/// The cache of one instance. Share it (`Arc`) between the requests of a function.
pub struct ProductCache {
    enabled: bool,
    entries: Cache<(Uuid, Uuid), Arc<CachedProduct>, BodyBytes>,
    tenants: Cache<Uuid, Arc<Freshness>>,
    checks: AtomicU64,
}

/// Tenants whose freshness state an instance keeps (an evicted one just starts over).
const TENANTS: usize = 10_000;

impl std::fmt::Debug for ProductCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductCache")
            .field("entries", &self.entries.len())
            .field("bytes", &self.entries.weight())
            .finish()
    }
}

impl ProductCache {
    /// A cache holding up to `capacity_bytes` of serialised products (at least 1 MiB); 0 turns
    /// caching off, every read going to the database (the benchmark's miss path).
    pub fn new(capacity_bytes: u64) -> Self {
        let enabled = capacity_bytes > 0;
        let capacity_bytes = capacity_bytes.max(1024 * 1024);
        let estimated_items = usize::try_from(capacity_bytes / 1536).unwrap_or(usize::MAX);
        Self {
            enabled,
            entries: Cache::with_weighter(estimated_items, capacity_bytes, BodyBytes),
            tenants: Cache::new(TENANTS),
            checks: AtomicU64::new(0),
        }
    }

    /// Freshness checks run so far (each answers every hit that waited for it).
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    /// The product `id` of `tenant` as it is now, or `None` when the tenant has no such product.
    pub async fn read(
        &self,
        pool: &Pool,
        tenant: Uuid,
        id: Uuid,
    ) -> Result<Option<(Arc<CachedProduct>, Outcome)>, Error> {
        let key = (tenant, id);
        if let Some(entry) = self.entries.get(&key).filter(|_| self.enabled)
            && self.current_seq(pool, tenant).await? == entry.seq
        {
            return Ok(Some((entry, Outcome::Hit)));
        }
        let client = pool.get().await?;
        let (seq, mut products) = read_products(&client, tenant, &[id]).await?;
        drop(client);
        let Some(product) = products.pop() else {
            self.entries.remove(&key);
            return Ok(None);
        };
        let body = serde_json::to_vec(&product).map_err(Error::internal)?;
        let entry = Arc::new(CachedProduct {
            seq,
            version: product.version,
            etag: etag(product.version),
            body: Bytes::from(body),
        });
        if self.enabled {
            self.entries.insert(key, Arc::clone(&entry));
        }
        Ok(Some((entry, Outcome::Miss)))
    }

    /// The tenant's change counter from a check that started after this call did.
    async fn current_seq(&self, pool: &Pool, tenant: Uuid) -> Result<i64, Error> {
        let freshness = self
            .tenants
            .get_or_insert_with(&tenant, || Ok::<_, Error>(Arc::new(Freshness::default())))?;
        let needed = freshness.lock().started + 1;
        loop {
            let waiting = {
                let mut state = freshness.lock();
                if let Some((generation, answer)) = state.finished
                    && generation >= needed
                {
                    return answer.ok_or_else(check_failed);
                }
                if state.running {
                    // Registered before the lock is released, so the wake-up cannot be missed.
                    Some(freshness.done.notified())
                } else {
                    state.running = true;
                    state.started += 1;
                    None
                }
            };
            match waiting {
                Some(notified) => notified.await,
                None => return self.run_check(pool, tenant, &freshness).await,
            }
        }
    }

    /// Runs the check this caller leads, publishing its answer (or failure) to the waiters.
    async fn run_check(
        &self,
        pool: &Pool,
        tenant: Uuid,
        freshness: &Arc<Freshness>,
    ) -> Result<i64, Error> {
        // Dropped unfinished (the request was cancelled): hand the lead on rather than strand
        // the waiters.
        let mut lead = Lead {
            freshness,
            answer: None,
        };
        self.checks.fetch_add(1, Ordering::Relaxed);
        let result = async {
            let client = pool.get().await?;
            let statement = client.prepare_cached(TENANT_CHANGE_SEQ).await?;
            let seq: i64 = client.query_one(&statement, &[&tenant]).await?.try_get(0)?;
            Ok::<_, Error>(seq)
        }
        .await;
        lead.answer = Some(result.as_ref().ok().copied());
        result
    }
}

/// Why a hit that waited for another request's check fails with it.
fn check_failed() -> Error {
    Error::unavailable("the catalog freshness check this read waited for failed")
}

/// One tenant's freshness checks.
#[derive(Default)]
struct Freshness {
    state: Mutex<CheckState>,
    done: Notify,
}

#[derive(Default)]
struct CheckState {
    /// Checks started so far; the running one, if any, is number `started`.
    started: u64,
    running: bool,
    /// The last finished check: its number and the counter it read (`None`: it failed).
    finished: Option<(u64, Option<i64>)>,
}

impl Freshness {
    fn lock(&self) -> std::sync::MutexGuard<'_, CheckState> {
        // A panic while holding this lock cannot leave the state inconsistent (plain fields).
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The running check of a tenant; publishes its outcome and wakes the waiters when dropped.
struct Lead<'a> {
    freshness: &'a Freshness,
    answer: Option<Option<i64>>,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        {
            let mut state = self.freshness.lock();
            state.running = false;
            if let Some(answer) = self.answer {
                state.finished = Some((state.started, answer));
            }
        }
        self.freshness.done.notify_waiters();
    }
}

impl Default for ProductCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY_BYTES)
    }
}
