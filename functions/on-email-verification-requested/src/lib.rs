//! `on-email-verification-requested` — Pub/Sub push on `auth.email_verification.requested`.
//!
//! Mails the user a plain-text message with the verification link
//! `{PUBLIC_APP_URL}/verify-email?token=...` and the token itself. A token that is no longer
//! usable when the event arrives (used, expired, superseded) sends nothing.
//!
//! A transient mail failure (SMTP down, no transport configured) is `EventError::Retry`, so
//! Pub/Sub redelivers with backoff and finally dead-letters; an address the transport refuses
//! outright is permanent. The token is never logged.
//!
//! Env: `DATABASE_URL`, `PUBLIC_APP_URL`, `SMTP_URL`, `MAIL_FROM`. Emits no events.

use olympus::Function;
use olympus::auth::one_time::{self, Purpose};
use olympus::events::identity::EmailVerificationRequested;
use olympus::events::{Envelope, EventContext, EventError, EventHandler};
use olympus::mail::{self, Mail};

pub fn function() -> Function {
    Function::on_event("on-email-verification-requested", SendVerificationMail)
        .secrets(&[olympus::mail::SMTP_SECRET])
}

/// Sends the verification mail.
#[derive(Debug, Clone, Copy)]
pub struct SendVerificationMail;

impl EventHandler for SendVerificationMail {
    type Event = EmailVerificationRequested;

    async fn handle(
        &self,
        ctx: &mut EventContext<'_>,
        envelope: &Envelope,
        event: EmailVerificationRequested,
    ) -> Result<(), EventError> {
        // ctx.tx is scoped to the envelope's tenant: another tenant's token is not found.
        let usable = one_time::is_usable(&ctx.tx, &event.token, Purpose::EmailVerification).await?;
        if !usable {
            tracing::info!(event_id = %envelope.id, user_id = %event.user_id,
                "verification token no longer usable; no mail sent");
            return Ok(());
        }
        let mail = verification_mail(&ctx.state.config().public_app_url, &event);
        ctx.state
            .mailer()
            .send(mail)
            .await
            .map_err(|err| mail::event_error("mail", err))?;
        tracing::info!(event_id = %envelope.id, user_id = %event.user_id, "verification mail sent");
        Ok(())
    }
}

/// The message: link, token and expiry, plain text.
pub fn verification_mail(app_url: &str, event: &EmailVerificationRequested) -> Mail {
    let link = format!(
        "{}/verify-email?token={}",
        app_url.trim_end_matches('/'),
        event.token
    );
    let text = format!(
        "Hello {name},\n\n\
         Please confirm that {email} is your email address by opening this link:\n\n{link}\n\n\
         or entering this code in the app:\n\n{token}\n\n\
         The link works once and expires at {expires} UTC.\n\n\
         If you did not ask for this, ignore this message.\n",
        name = event.name,
        email = event.email,
        token = event.token,
        expires = event.expires_at.format("%Y-%m-%d %H:%M"),
    );
    Mail {
        to: event.email.clone(),
        subject: "Confirm your email address".to_owned(),
        text,
    }
}
