//! `on-password-reset-requested` — Pub/Sub push on `auth.password_reset.requested`.
//!
//! Mails the user a plain-text message with the reset link
//! `{PUBLIC_APP_URL}/reset-password?token=...` and the token itself (for apps that take it
//! typed in). A token that is no longer usable when the event arrives (used, expired, or
//! superseded by a newer request, e.g. on a late retry or a dead-letter replay) sends nothing.
//!
//! A transient mail failure (SMTP down, no transport configured) is `EventError::Retry`, so
//! Pub/Sub redelivers with backoff and finally dead-letters; an address the transport refuses
//! outright is permanent. The token is never logged.
//!
//! Env: `DATABASE_URL`, `PUBLIC_APP_URL`, `SMTP_URL`, `MAIL_FROM`. Emits no events.

use olympus::Function;
use olympus::auth::one_time::{self, Purpose};
use olympus::events::identity::PasswordResetRequested;
use olympus::events::{Envelope, EventContext, EventError, EventHandler};
use olympus::mail::{self, Mail};

pub fn function() -> Function {
    Function::on_event("on-password-reset-requested", SendResetMail)
        .secrets(&[olympus::mail::SMTP_SECRET])
}

/// Sends the reset mail.
#[derive(Debug, Clone, Copy)]
pub struct SendResetMail;

impl EventHandler for SendResetMail {
    type Event = PasswordResetRequested;

    async fn handle(
        &self,
        ctx: &mut EventContext<'_>,
        envelope: &Envelope,
        event: PasswordResetRequested,
    ) -> Result<(), EventError> {
        // ctx.tx is scoped to the envelope's tenant: another tenant's token is not found.
        let usable = one_time::is_usable(&ctx.tx, &event.token, Purpose::PasswordReset).await?;
        if !usable {
            tracing::info!(event_id = %envelope.id, user_id = %event.user_id,
                "reset token no longer usable; no mail sent");
            return Ok(());
        }
        let business: Option<String> = match envelope.tenant_id {
            Some(tenant) => ctx
                .tx
                .query_opt(
                    "SELECT name FROM platform.tenants WHERE id = $1",
                    &[&tenant],
                )
                .await?
                .map(|row| row.get(0)),
            None => None,
        };
        let mail = reset_mail(
            &ctx.state.config().public_app_url,
            business.as_deref(),
            &event,
        );
        ctx.state
            .mailer()
            .send(mail)
            .await
            .map_err(|err| mail::event_error("mail", err))?;
        tracing::info!(event_id = %envelope.id, user_id = %event.user_id, "reset mail sent");
        Ok(())
    }
}

/// The message: link, token and expiry, plain text.
pub fn reset_mail(app_url: &str, business: Option<&str>, event: &PasswordResetRequested) -> Mail {
    let link = format!(
        "{}/reset-password?token={}",
        app_url.trim_end_matches('/'),
        event.token
    );
    let account = business.map_or_else(String::new, |name| format!(" at {name}"));
    let text = format!(
        "Hello {name},\n\n\
         Someone (hopefully you) asked to reset the password of your Olympus account{account}.\n\n\
         To choose a new password, open this link:\n\n{link}\n\n\
         or enter this code in the app:\n\n{token}\n\n\
         The link works once and expires at {expires} UTC. Resetting your password signs you \
         out everywhere.\n\n\
         If you did not ask for this, ignore this message: your password stays as it is.\n",
        name = event.name,
        token = event.token,
        expires = event.expires_at.format("%Y-%m-%d %H:%M"),
    );
    Mail {
        to: event.email.clone(),
        subject: "Reset your Olympus password".to_owned(),
        text,
    }
}
