//! Outgoing mail: SMTP through lettre when `SMTP_URL` is set; the dev runner's in-memory
//! mailbox locally (readable at `GET /dev/mailbox`). Without either, sending fails as
//! retryable, so the event that asked for the mail is retried and finally dead-lettered rather
//! than silently lost.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;

use crate::config::{Config, ConfigError};
use crate::error::Error;
use crate::events::EventError;

/// The secret a mail-sending function declares in its spec (`.secrets(&[SMTP_SECRET])`).
pub const SMTP_SECRET: &str = "SMTP_URL";

/// One plain-text message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Delivers mail.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: Mail) -> Result<(), Error>;
}

/// What a mailing event handler answers when sending failed: a refused address (4xx) never
/// will succeed, so it is permanent (`"<what> refused: <code>"`); anything else retries.
pub fn event_error(what: &str, err: Error) -> EventError {
    if err.status().is_client_error() {
        EventError::permanent(format!("{what} refused: {}", err.code()))
    } else {
        EventError::Retry(Box::new(err))
    }
}

/// The mailer of a deployed function.
pub fn from_config(config: &Config) -> Result<std::sync::Arc<dyn Mailer>, ConfigError> {
    match &config.smtp_url {
        Some(url) => Ok(std::sync::Arc::new(SmtpMailer::new(
            url,
            &config.mail_from,
        )?)),
        None => Ok(std::sync::Arc::new(Unconfigured)),
    }
}

/// Refuses (retryably): no mail transport is configured.
#[derive(Debug, Default)]
pub struct Unconfigured;

#[async_trait]
impl Mailer for Unconfigured {
    async fn send(&self, _mail: Mail) -> Result<(), Error> {
        Err(Error::unavailable(std::io::Error::other(
            "no mail transport: set SMTP_URL",
        )))
    }
}

/// SMTP through lettre's pooled async transport.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> Result<Self, ConfigError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| ConfigError::Invalid {
                var: "SMTP_URL".to_owned(),
                value: "<secret>".to_owned(),
                problem: e.to_string(),
            })?
            .build();
        let from =
            from.parse()
                .map_err(|e: lettre::address::AddressError| ConfigError::Invalid {
                    var: "MAIL_FROM".to_owned(),
                    value: from.to_owned(),
                    problem: e.to_string(),
                })?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<(), Error> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e: lettre::address::AddressError| {
                Error::unprocessable("invalid_email", e.to_string())
            })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .body(mail.text)
            .map_err(Error::internal)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(Error::unavailable)
    }
}

/// A delivered message in the dev mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivered {
    pub mail: Mail,
    pub delivered_at: DateTime<Utc>,
}

/// Keeps every message in memory (dev runner and tests).
#[derive(Debug, Default)]
pub struct MemoryMailbox {
    messages: Mutex<Vec<Delivered>>,
}

impl MemoryMailbox {
    /// Messages newest last.
    pub fn messages(&self) -> Vec<Delivered> {
        self.messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl Mailer for MemoryMailbox {
    async fn send(&self, mail: Mail) -> Result<(), Error> {
        self.messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Delivered {
                mail,
                delivered_at: Utc::now(),
            });
        Ok(())
    }
}
