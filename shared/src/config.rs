//! Typed configuration from the environment.
//!
//! Every variable is read once at start-up; a missing or malformed one stops the process with a
//! message naming the variable and what was wrong, never a panic deep in a handler.
//!
//! Hand-written rather than `envy`/`config`: those are either unmaintained or pull a file-format
//! stack we do not need, and neither names the offending variable with the accepted forms.

use std::str::FromStr;
use std::time::Duration;

/// A start-up configuration problem, naming the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {var} is required: {hint}")]
    Missing { var: String, hint: String },
    #[error("environment variable {var}={value:?} is invalid: {problem}")]
    Invalid {
        var: String,
        value: String,
        problem: String,
    },
}

type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Reads variables from a source (the process environment, or a map in tests).
pub struct Env<'a> {
    lookup: Lookup<'a>,
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

impl<'a> Env<'a> {
    /// The process environment.
    pub fn process() -> Env<'static> {
        Env {
            lookup: Box::new(|name| std::env::var(name).ok()),
        }
    }

    /// Any lookup function, e.g. over a `HashMap` in tests.
    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
        }
    }

    /// The raw value; empty strings count as unset.
    pub fn raw(&self, var: &str) -> Option<String> {
        (self.lookup)(var).filter(|v| !v.trim().is_empty())
    }

    /// A required variable parsed as `T`.
    pub fn required<T>(&self, var: &str, hint: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.raw(var) {
            Some(value) => parse(var, &value),
            None => Err(ConfigError::Missing {
                var: var.to_owned(),
                hint: hint.to_owned(),
            }),
        }
    }

    /// An optional variable parsed as `T`.
    pub fn optional<T>(&self, var: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.raw(var).map(|value| parse(var, &value)).transpose()
    }

    /// An optional variable with a default.
    pub fn or<T>(&self, var: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        Ok(self.optional(var)?.unwrap_or(default))
    }

    /// A duration in whole seconds.
    pub fn seconds(&self, var: &str, default: Duration) -> Result<Duration, ConfigError> {
        Ok(self
            .optional::<u64>(var)?
            .map_or(default, Duration::from_secs))
    }

    /// A comma-separated list; unset is empty.
    pub fn list(&self, var: &str) -> Vec<String> {
        self.raw(var)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A boolean flag: 1/true/yes/on or 0/false/no/off.
    pub fn flag(&self, var: &str, default: bool) -> Result<bool, ConfigError> {
        let Some(value) = self.raw(var) else {
            return Ok(default);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::Invalid {
                var: var.to_owned(),
                value,
                problem: "expected one of 1, true, yes, on, 0, false, no, off".to_owned(),
            }),
        }
    }
}

fn parse<T>(var: &str, value: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e: T::Err| ConfigError::Invalid {
            var: var.to_owned(),
            value: value.to_owned(),
            problem: e.to_string(),
        })
}

/// Which platform the binary serves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Cloud Run service (or any plain HTTP host): axum on hyper, bound to `$PORT`.
    CloudRun,
    /// Cloud Run job execution (`CLOUD_RUN_JOB` set): run a job function once and exit.
    CloudRunJob,
    /// AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set): the same router through `lambda_http`.
    Lambda,
}

/// Everything a function reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`, default 8080.
    pub port: u16,
    /// `K_SERVICE` or the function's own name; the service name in logs.
    pub service: Option<String>,
    pub platform: Platform,
    /// `DATABASE_URL`: a postgres URL or key=value string; `host=/cloudsql/...` sockets work.
    pub database_url: Option<String>,
    /// `DATABASE_POOL_SIZE`, default 8.
    pub database_pool_size: usize,
    /// `GOOGLE_CLOUD_PROJECT`: where Pub/Sub topics live.
    pub project_id: Option<String>,
    /// `PUBSUB_EMULATOR_HOST`: `host:port` of the Pub/Sub emulator, when used.
    pub pubsub_emulator_host: Option<String>,
    /// `AUTH_ISSUER` and `AUTH_AUDIENCE`: what access tokens must say.
    pub auth_issuer: String,
    pub auth_audience: String,
    /// `AUTH_JWKS`: the verification key set as JWKS JSON (Secret Manager in production).
    pub auth_jwks: Option<String>,
    /// `AUTH_SIGNING_KEY`: the private key tokens are signed with, PKCS#8 as PEM or base64 DER
    /// (only the functions that issue tokens have it). Its public half must be in `AUTH_JWKS`.
    pub auth_signing_key: Option<String>,
    /// `AUTH_SIGNING_KEY_ID`: the `kid` of the signing key.
    pub auth_signing_key_id: Option<String>,
    /// `AUTH_SIGNING_ALG`: `EdDSA` (default: verifies ~30% faster than ES256 here, see the
    /// auth benchmark) or `ES256`.
    pub auth_signing_alg: String,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins, `*` for any; unset disables CORS.
    pub cors_allowed_origins: Vec<String>,
    /// `MAX_BODY_BYTES`, default 1 MiB.
    pub max_body_bytes: usize,
    /// `SHUTDOWN_GRACE_SECONDS`, default 8: how long in-flight requests may finish on SIGTERM.
    pub shutdown_grace: Duration,
    /// `OPERATOR_TENANT_ID`: the platform operator's own tenant; only its principals may use
    /// cross-tenant admin endpoints (dead letters). Unset: nobody may.
    pub operator_tenant_id: Option<uuid::Uuid>,
    /// `SMTP_URL`: e.g. `smtps://user:pass@smtp.example.com` (lettre URL form); unset: no mail.
    pub smtp_url: Option<String>,
    /// `MAIL_FROM`: the sender address of platform mail.
    pub mail_from: String,
    /// `PUBLIC_APP_URL`: where links in mails point (the web app), default the issuer.
    pub public_app_url: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::process())
    }

    /// Reads any environment source.
    pub fn from(env: &Env<'_>) -> Result<Self, ConfigError> {
        let platform = if env.raw("AWS_LAMBDA_RUNTIME_API").is_some() {
            Platform::Lambda
        } else if env.raw("CLOUD_RUN_JOB").is_some() {
            Platform::CloudRunJob
        } else {
            Platform::CloudRun
        };
        let pool_size: usize = env.or("DATABASE_POOL_SIZE", 8)?;
        if pool_size == 0 {
            return Err(ConfigError::Invalid {
                var: "DATABASE_POOL_SIZE".into(),
                value: "0".into(),
                problem: "must be at least 1".into(),
            });
        }
        Ok(Self {
            port: env.or("PORT", 8080)?,
            service: env.raw("K_SERVICE"),
            platform,
            database_url: env.raw("DATABASE_URL"),
            database_pool_size: pool_size,
            project_id: env
                .raw("GOOGLE_CLOUD_PROJECT")
                .or_else(|| env.raw("PUBSUB_PROJECT_ID")),
            pubsub_emulator_host: env.raw("PUBSUB_EMULATOR_HOST"),
            auth_issuer: env
                .raw("AUTH_ISSUER")
                .unwrap_or_else(|| "https://auth.olympus.local".to_owned()),
            auth_audience: env
                .raw("AUTH_AUDIENCE")
                .unwrap_or_else(|| "olympus".to_owned()),
            auth_jwks: env.raw("AUTH_JWKS"),
            auth_signing_key: env.raw("AUTH_SIGNING_KEY"),
            auth_signing_key_id: env.raw("AUTH_SIGNING_KEY_ID"),
            auth_signing_alg: env
                .raw("AUTH_SIGNING_ALG")
                .unwrap_or_else(|| "EdDSA".to_owned()),
            cors_allowed_origins: env.list("CORS_ALLOWED_ORIGINS"),
            max_body_bytes: env.or("MAX_BODY_BYTES", 1024 * 1024)?,
            shutdown_grace: env.seconds("SHUTDOWN_GRACE_SECONDS", Duration::from_secs(8))?,
            operator_tenant_id: env.optional("OPERATOR_TENANT_ID")?,
            smtp_url: env.raw("SMTP_URL"),
            mail_from: env
                .raw("MAIL_FROM")
                .unwrap_or_else(|| "Olympus <no-reply@olympus.local>".to_owned()),
            public_app_url: env
                .raw("PUBLIC_APP_URL")
                .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned()),
        })
    }

    /// Whether logs should be Cloud Logging JSON (on Cloud Run) rather than readable text.
    pub fn on_cloud_run(&self) -> bool {
        self.service.is_some() || self.platform == Platform::CloudRunJob
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_apply_when_unset() {
        let vars = env(&[]);
        let config = Config::from(&Env::from_fn(|k| vars.get(k).cloned())).unwrap();
        assert_eq!(config.port, 8080);
        assert_eq!(config.database_pool_size, 8);
        assert_eq!(config.platform, Platform::CloudRun);
        assert_eq!(config.shutdown_grace, Duration::from_secs(8));
    }

    #[test]
    fn malformed_variable_is_named_in_the_error() {
        let vars = env(&[("PORT", "eighty")]);
        let err = Config::from(&Env::from_fn(|k| vars.get(k).cloned())).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("PORT"), "{message}");
        assert!(message.contains("eighty"), "{message}");
    }

    #[test]
    fn missing_required_variable_is_named() {
        let vars = env(&[]);
        let err = Env::from_fn(|k| vars.get(k).cloned())
            .required::<String>("DATABASE_URL", "set it to a postgres URL")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable DATABASE_URL is required: set it to a postgres URL"
        );
    }

    #[test]
    fn lambda_and_job_platforms_are_detected() {
        let lambda = env(&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")]);
        let job = env(&[("CLOUD_RUN_JOB", "relay-outbox")]);
        let c = Config::from(&Env::from_fn(|k| lambda.get(k).cloned())).unwrap();
        assert_eq!(c.platform, Platform::Lambda);
        let c = Config::from(&Env::from_fn(|k| job.get(k).cloned())).unwrap();
        assert_eq!(c.platform, Platform::CloudRunJob);
    }

    #[test]
    fn flags_and_lists_parse() {
        let vars = env(&[("A", "yes"), ("B", "maybe"), ("L", " a, b ,,c ")]);
        let e = Env::from_fn(|k| vars.get(k).cloned());
        assert!(e.flag("A", false).unwrap());
        assert!(e.flag("B", false).is_err());
        assert_eq!(e.list("L"), vec!["a", "b", "c"]);
    }
}
