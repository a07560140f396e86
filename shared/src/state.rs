//! The state every handler receives: configuration, the database pool, the event publisher and
//! the access-token verifier. Built without any network round trip so start-up stays in
//! milliseconds; connections are opened on first use.

use std::sync::Arc;

use crate::auth::{Signer, Verifier};
use crate::config::{Config, ConfigError};
use crate::db::{self, Pool};
use crate::error::Error;
use crate::events::publisher::{self, Publisher};
use crate::mail::{self, Mailer};

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    config: Config,
    db: Option<Pool>,
    publisher: Arc<dyn Publisher>,
    verifier: Verifier,
    signer: Option<Signer>,
    mailer: Arc<dyn Mailer>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("service", &self.inner.config.service)
            .field("db", &self.inner.db.is_some())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Assembles state from its parts (the dev runner and tests choose their own publisher).
    /// A signing key or mail transport that does not configure is logged and left disabled;
    /// functions that need them then fail clearly at first use.
    pub fn new(
        config: Config,
        db: Option<Pool>,
        publisher: Arc<dyn Publisher>,
        verifier: Verifier,
    ) -> Self {
        let signer = Signer::from_config(&config, &verifier).unwrap_or_else(|e| {
            tracing::error!(error = %e, "token signing disabled");
            None
        });
        let mailer = mail::from_config(&config).unwrap_or_else(|e| {
            tracing::error!(error = %e, "mail disabled");
            Arc::new(mail::Unconfigured)
        });
        Self::assemble(config, db, publisher, verifier, signer, mailer)
    }

    fn assemble(
        config: Config,
        db: Option<Pool>,
        publisher: Arc<dyn Publisher>,
        verifier: Verifier,
        signer: Option<Signer>,
        mailer: Arc<dyn Mailer>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                db,
                publisher,
                verifier,
                signer,
                mailer,
            }),
        }
    }

    /// Production assembly from configuration: a lazy pool, the Pub/Sub publisher when a
    /// project is configured, the verifier from `AUTH_JWKS`; a bad signing key or mail URL
    /// stops start-up.
    pub fn from_config(config: Config) -> Result<Self, ConfigError> {
        let db = config
            .database_url
            .as_deref()
            .map(|url| db::pool(url, config.database_pool_size))
            .transpose()?;
        let publisher = publisher::from_config(&config);
        let verifier = Verifier::from_config(&config)?;
        let signer = Signer::from_config(&config, &verifier)?;
        let mailer = mail::from_config(&config)?;
        Ok(Self::assemble(
            config, db, publisher, verifier, signer, mailer,
        ))
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The pool, or a 503 when this deployment has no database configured.
    pub fn db(&self) -> Result<&Pool, Error> {
        self.inner.db.as_ref().ok_or_else(|| {
            Error::unavailable(std::io::Error::other("DATABASE_URL is not configured"))
        })
    }

    pub fn publisher(&self) -> &Arc<dyn Publisher> {
        &self.inner.publisher
    }

    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// Replaces the mailer (the dev runner's in-memory mailbox, tests).
    #[must_use]
    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        Arc::make_mut(&mut self.inner).mailer = mailer;
        self
    }

    pub fn mailer(&self) -> &Arc<dyn Mailer> {
        &self.inner.mailer
    }

    /// The token signer, for the functions that issue tokens.
    pub fn signer(&self) -> Result<&Signer, Error> {
        self.inner.signer.as_ref().ok_or_else(|| {
            Error::internal(std::io::Error::other(
                "AUTH_SIGNING_KEY is not configured for this function",
            ))
        })
    }

    /// Flushes the publisher and closes the pool; called once on shutdown.
    pub async fn close(&self) {
        self.inner.publisher.flush().await;
        if let Some(pool) = &self.inner.db {
            pool.close();
        }
    }
}
