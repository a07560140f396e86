//! The topology: every function's spec, as Terraform reads it
//! (`terraform/functions.auto.tfvars.json`). Generated, checked in, and checked by a test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use olympus::events::DEAD_LETTER_TOPIC;
use olympus::{Function, Trigger};
use serde::{Deserialize, Serialize};

/// The generated file, relative to the workspace root.
pub const TFVARS_PATH: &str = "terraform/functions.auto.tfvars.json";

/// One route as Terraform's URL map needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub method: String,
    /// axum syntax: `/v1/orders/{id}`.
    pub path: String,
    /// URL-map path template syntax: `/v1/orders/{id=*}`.
    pub path_template: String,
}

/// One function's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionSpec {
    pub kind: String,
    pub routes: Vec<Route>,
    pub topic: Option<String>,
    pub push_path: Option<String>,
    pub schedule: Option<String>,
    pub job_path: Option<String>,
    /// Event types it may publish (`*` expanded to every topic).
    pub publishes: Vec<String>,
    /// Secret environment variables Terraform mounts for it (beyond DATABASE_URL and AUTH_JWKS).
    pub secrets: Vec<String>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    pub functions: BTreeMap<String, FunctionSpec>,
    pub topics: Vec<String>,
    pub dead_letter_topic: String,
}

/// `/v1/orders/{id}` → `/v1/orders/{id=*}`; a trailing `{*rest}` → `{rest=**}`.
pub fn path_template(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if let Some(name) = segment.strip_prefix("{*").and_then(|s| s.strip_suffix('}')) {
                format!("{{{name}=**}}")
            } else if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                format!("{{{name}=*}}")
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl Topology {
    /// The topology of a set of functions.
    pub fn of(functions: &[Function]) -> Self {
        let mut topics = BTreeSet::new();
        for function in functions {
            if let Trigger::Event { topic, .. } = function.trigger() {
                topics.insert(topic.clone());
            }
            for topic in function.published_topics() {
                if topic != "*" {
                    topics.insert(topic.clone());
                }
            }
        }
        topics.remove(DEAD_LETTER_TOPIC);
        let all: Vec<String> = topics.iter().cloned().collect();
        let functions = functions
            .iter()
            .map(|function| {
                let publishes = if function.published_topics().iter().any(|t| t == "*") {
                    all.clone()
                } else {
                    let mut own: Vec<String> = function.published_topics().to_vec();
                    own.sort();
                    own.dedup();
                    own
                };
                let mut spec = FunctionSpec {
                    kind: function.trigger().kind().to_owned(),
                    routes: Vec::new(),
                    topic: None,
                    push_path: None,
                    schedule: None,
                    job_path: None,
                    publishes,
                    secrets: {
                        let mut secrets = function.secret_names().to_vec();
                        secrets.sort();
                        secrets.dedup();
                        secrets
                    },
                };
                match function.trigger() {
                    Trigger::Http { routes } => {
                        spec.routes = routes
                            .iter()
                            .map(|r| Route {
                                method: r.method.clone(),
                                path: r.path.clone(),
                                path_template: path_template(&r.path),
                            })
                            .collect();
                    }
                    Trigger::Event { topic, push_path } => {
                        spec.topic = Some(topic.clone());
                        spec.push_path = Some(push_path.clone());
                    }
                    Trigger::Job { schedule, path } => {
                        spec.schedule.clone_from(schedule);
                        spec.job_path = Some(path.clone());
                    }
                }
                (function.name().to_owned(), spec)
            })
            .collect();
        Self {
            functions,
            topics: all,
            dead_letter_topic: DEAD_LETTER_TOPIC.to_owned(),
        }
    }

    /// The file's exact text (pretty JSON, trailing newline).
    pub fn render(&self) -> Result<String> {
        Ok(format!("{}\n", serde_json::to_string_pretty(self)?))
    }
}

/// The workspace root (this crate's parent).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Writes the generated file; returns whether it changed.
pub fn write(functions: &[Function]) -> Result<bool> {
    let path = workspace_root().join(TFVARS_PATH);
    let text = Topology::of(functions).render()?;
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == text {
        return Ok(false);
    }
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn path_templates_follow_url_map_syntax() {
        assert_eq!(path_template("/v1/orders"), "/v1/orders");
        assert_eq!(path_template("/v1/orders/{id}"), "/v1/orders/{id=*}");
        assert_eq!(
            path_template("/v1/orders/{id}/payments/{payment}"),
            "/v1/orders/{id=*}/payments/{payment=*}"
        );
        assert_eq!(path_template("/files/{*rest}"), "/files/{rest=**}");
    }

    #[test]
    fn committed_topology_is_current() {
        let path = workspace_root().join(TFVARS_PATH);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        let generated = Topology::of(&crate::registry::all()).render().unwrap();
        assert!(
            committed == generated,
            "{} is stale: run `cargo run -p dev -- topology` (or `make topology`) and commit it",
            path.display()
        );
    }

    #[test]
    fn every_function_has_a_unique_name_and_routes_do_not_collide() {
        let functions = crate::registry::all();
        let mut names = BTreeSet::new();
        let mut routes = BTreeSet::new();
        for function in &functions {
            assert!(
                names.insert(function.name()),
                "duplicate {}",
                function.name()
            );
            if let Trigger::Http { routes: r } = function.trigger() {
                for route in r {
                    assert!(
                        routes.insert((route.method.clone(), route.path.clone())),
                        "{} {} is served twice",
                        route.method,
                        route.path
                    );
                }
            }
        }
    }
}
