//! `on-user-invited` — consumes `auth.user.invited` (push endpoint `/events/on-user-invited`).
//!
//! Mails the invitee the link `{PUBLIC_APP_URL}/accept-invite?token=...`, with the tenant's name
//! and slug (what login asks for). A delivery whose token is no longer usable — accepted,
//! superseded by a newer invite, expired, or the user no longer `invited` — is acked without
//! mail. A mail transport failure is retried (503, then the dead-letter policy); an address
//! the transport can never accept is permanent. The token is never logged.
//!
//! Env: `DATABASE_URL`, `PUBLIC_APP_URL`, `SMTP_URL`, `MAIL_FROM`. Emits: nothing.

use olympus::Function;
use olympus::auth::session::token_hash;
use olympus::events::identity::UserInvited;
use olympus::events::{Envelope, EventContext, EventError, EventHandler};
use olympus::mail::{self, Mail};

pub fn function() -> Function {
    Function::on_event("on-user-invited", MailInvite).secrets(&[olympus::mail::SMTP_SECRET])
}

/// Sends the invite mail.
#[derive(Debug)]
pub struct MailInvite;

/// The mail for `event` (pure; the token only ever goes into the link).
pub fn invite_mail(
    event: &UserInvited,
    public_app_url: &str,
    tenant_name: &str,
    tenant_slug: &str,
) -> Mail {
    let link = format!(
        "{}/accept-invite?token={}",
        public_app_url.trim_end_matches('/'),
        event.token
    );
    let expires = event.expires_at.format("%Y-%m-%d %H:%M UTC");
    Mail {
        to: event.email.clone(),
        subject: format!("You are invited to {tenant_name} on Olympus"),
        text: format!(
            "Hello {name},\n\n\
             You have been invited to join {tenant_name} on Olympus.\n\
             Choose your password to accept the invitation:\n\n{link}\n\n\
             The link works once, until {expires}.\n\
             Afterwards, sign in with the workspace \"{tenant_slug}\" and your email {email}.\n\n\
             If you did not expect this invitation, ignore this message.\n",
            name = event.name,
            email = event.email,
        ),
    }
}

impl EventHandler for MailInvite {
    type Event = UserInvited;

    async fn handle(
        &self,
        ctx: &mut EventContext<'_>,
        envelope: &Envelope,
        event: UserInvited,
    ) -> Result<(), EventError> {
        // Only the newest unused invite of a still-invited user is worth a mail.
        let row = ctx
            .tx
            .query_opt(
                "SELECT t.name, t.slug
                 FROM auth.one_time_tokens o
                 JOIN auth.users u ON u.id = o.user_id
                 JOIN platform.tenants t ON t.id = u.tenant_id
                 WHERE o.token_hash = $1 AND o.purpose = 'invite' AND o.user_id = $2
                   AND o.used_at IS NULL AND o.expires_at > now() AND u.status = 'invited'",
                &[&token_hash(&event.token), &event.user_id],
            )
            .await?;
        let Some(row) = row else {
            tracing::info!(
                event_id = %envelope.id,
                user_id = %event.user_id,
                "invite no longer usable; no mail sent"
            );
            return Ok(());
        };
        let tenant_name: String = row.try_get(0)?;
        let tenant_slug: String = row.try_get(1)?;
        let mail = invite_mail(
            &event,
            &ctx.state.config().public_app_url,
            &tenant_name,
            &tenant_slug,
        );
        ctx.state
            .mailer()
            .send(mail)
            .await
            .map_err(|err| mail::event_error("invite mail", err))?;
        tracing::info!(event_id = %envelope.id, user_id = %event.user_id, "invite mailed");
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn the_mail_carries_the_link_and_the_sign_in_names() {
        let event = UserInvited {
            user_id: Uuid::now_v7(),
            email: "sam@example.com".to_owned(),
            name: "Sam".to_owned(),
            invited_by: Uuid::now_v7(),
            token: "ott_abc_secret".to_owned(),
            expires_at: chrono::Utc::now(),
        };
        let mail = invite_mail(&event, "https://app.example/", "Joe's Diner", "joes-diner");
        assert_eq!(mail.to, "sam@example.com");
        assert!(mail.subject.contains("Joe's Diner"));
        assert!(
            mail.text
                .contains("https://app.example/accept-invite?token=ott_abc_secret\n"),
            "{}",
            mail.text
        );
        assert!(mail.text.contains("\"joes-diner\""));
    }
}
