//! The `Function` spec: what one deployable is and how it is triggered.
//!
//! The spec is built together with the router, so the routes the topology declares are exactly
//! the routes the binary serves: there is no second list to drift.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::events::push::{self, EventHandler, PushHandler, Typed};
use crate::http::idempotency::{self, Idempotency};
use crate::state::AppState;

/// Path prefix of the push endpoint of every event function: `/events/<function-name>`.
pub const EVENTS_PREFIX: &str = "/events/";
/// Path prefix of the trigger endpoint of every job function: `/jobs/<function-name>`.
pub const JOBS_PREFIX: &str = "/jobs/";

/// One HTTP route a function serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteSpec {
    pub method: String,
    pub path: String,
}

/// How a function is invoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// HTTP routes, served by a Cloud Run service.
    Http { routes: Vec<RouteSpec> },
    /// A Pub/Sub push subscription on `topic`, delivered to `push_path`.
    Event { topic: String, push_path: String },
    /// Work run to completion: by Cloud Scheduler on `schedule` (cron, UTC) when set, or on
    /// demand (e.g. `migrate`). Also reachable as `POST path` where it runs as a service.
    Job {
        schedule: Option<String>,
        path: String,
    },
}

impl Trigger {
    /// `http`, `event` or `job`: the kind the topology and Terraform use.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http { .. } => "http",
            Self::Event { .. } => "event",
            Self::Job { .. } => "job",
        }
    }
}

/// What a job run did, for its log line and the `/jobs/<name>` response.
pub type JobReport = Value;

type JobRunner =
    Arc<dyn Fn(AppState) -> BoxFuture<'static, Result<JobReport, Error>> + Send + Sync>;

/// Work a job function does once per invocation.
pub trait Job: Send + Sync + 'static {
    fn run(&self, state: AppState) -> impl Future<Output = Result<JobReport, Error>> + Send;
}

/// One deployable: its spec and its router.
#[derive(Clone)]
pub struct Function {
    name: &'static str,
    trigger: Trigger,
    publishes: Vec<String>,
    secrets: Vec<String>,
    router: Router<AppState>,
    job: Option<JobRunner>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .field("trigger", &self.trigger)
            .field("publishes", &self.publishes)
            .finish_non_exhaustive()
    }
}

impl Function {
    /// An HTTP function; add routes with [`HttpFunction::route`].
    pub fn http(name: &'static str) -> HttpFunction {
        HttpFunction {
            name,
            routes: Vec::new(),
            publishes: Vec::new(),
            secrets: Vec::new(),
            router: Router::new(),
            body_limit: None,
        }
    }

    /// An event function: a push endpoint for `handler`'s topic at `/events/<name>`, with
    /// decoding, dedupe and ack/retry/dead-letter mapping done by [`push`].
    pub fn event<H: PushHandler>(name: &'static str, handler: H) -> Self {
        let push_path = format!("{EVENTS_PREFIX}{name}");
        let topic = handler.topic().to_owned();
        let router = Router::new().route(&push_path, axum::routing::post(push::endpoint(handler)));
        Self {
            name,
            trigger: Trigger::Event { topic, push_path },
            publishes: Vec::new(),
            secrets: Vec::new(),
            router,
            job: None,
        }
    }

    /// An event function for one typed event (the usual kind): see [`EventHandler`].
    pub fn on_event<H: EventHandler>(name: &'static str, handler: H) -> Self {
        Self::event(name, Typed(handler))
    }

    /// A job function, scheduled by `schedule` (cron, UTC) when given.
    pub fn job<J: Job>(name: &'static str, schedule: Option<&str>, job: J) -> Self {
        let path = format!("{JOBS_PREFIX}{name}");
        let job = Arc::new(job);
        let runner: JobRunner = Arc::new(move |state: AppState| {
            let job = Arc::clone(&job);
            Box::pin(async move { job.run(state).await })
        });
        let route_runner = Arc::clone(&runner);
        let router = Router::new().route(
            &path,
            axum::routing::post(
                move |axum::extract::State(state): axum::extract::State<AppState>| {
                    let runner = Arc::clone(&route_runner);
                    async move { runner(state).await.map(axum::Json) }
                },
            ),
        );
        Self {
            name,
            trigger: Trigger::Job {
                schedule: schedule.map(str::to_owned),
                path,
            },
            publishes: Vec::new(),
            secrets: Vec::new(),
            router,
            job: Some(runner),
        }
    }

    /// Declares the event types this function may publish (for topology and IAM).
    #[must_use]
    pub fn publishes(mut self, event_types: &[&str]) -> Self {
        self.publishes
            .extend(event_types.iter().map(|t| (*t).to_owned()));
        self
    }

    /// Declares secret environment variables this function needs beyond every function's
    /// `DATABASE_URL` and `AUTH_JWKS` (e.g. `AUTH_SIGNING_KEY`, `SMTP_URL`): Terraform mounts
    /// exactly these from Secret Manager, so no other function can read them.
    #[must_use]
    pub fn secrets(mut self, names: &[&str]) -> Self {
        self.secrets.extend(names.iter().map(|n| (*n).to_owned()));
        self
    }

    pub fn secret_names(&self) -> &[String] {
        &self.secrets
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn trigger(&self) -> &Trigger {
        &self.trigger
    }

    pub fn published_topics(&self) -> &[String] {
        &self.publishes
    }

    /// The function's routes, state not yet applied.
    pub fn router(&self) -> Router<AppState> {
        self.router.clone()
    }

    /// Runs a job function once (Cloud Run job execution, the dev scheduler, tests).
    pub async fn run_job(&self, state: AppState) -> Result<JobReport, Error> {
        match &self.job {
            Some(runner) => runner(state).await,
            None => Err(Error::internal(std::io::Error::other(format!(
                "{} is not a job function",
                self.name
            )))),
        }
    }
}

/// The axum filter of a standard method; functions are built at start-up, so an unroutable
/// method is a programming error reported there.
fn method_filter(method: &axum::http::Method) -> MethodFilter {
    MethodFilter::try_from(method.clone())
        .unwrap_or_else(|_| panic!("unsupported HTTP method {method} in a route"))
}

/// Builder of an HTTP function: each route is recorded in the spec and mounted in the router.
pub struct HttpFunction {
    name: &'static str,
    routes: Vec<RouteSpec>,
    publishes: Vec<String>,
    secrets: Vec<String>,
    router: Router<AppState>,
    body_limit: Option<usize>,
}

impl std::fmt::Debug for HttpFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpFunction")
            .field("name", &self.name)
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl HttpFunction {
    /// Serves `method path` with `handler` (axum path syntax: `/v1/orders/{id}`).
    #[must_use]
    pub fn route<H, T>(self, method: &axum::http::Method, path: &str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let route = on(method_filter(method), handler);
        self.mount(method, path, route)
    }

    /// Serves a mutating route behind `Idempotency-Key` handling (see [`Idempotency`]).
    #[must_use]
    pub fn idempotent_route<H, T>(
        self,
        method: &axum::http::Method,
        path: &str,
        handler: H,
        mode: Idempotency,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let route = on(method_filter(method), handler).layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                idempotency::middleware(mode, request, next)
            },
        ));
        self.mount(method, path, route)
    }

    /// Records the route in the spec and mounts it: the one place both happen.
    fn mount(
        mut self,
        method: &axum::http::Method,
        path: &str,
        route: axum::routing::MethodRouter<AppState>,
    ) -> Self {
        self.routes.push(RouteSpec {
            method: method.as_str().to_owned(),
            path: path.to_owned(),
        });
        self.router = self.router.route(path, route);
        self
    }

    /// Declares the event types this function may publish.
    #[must_use]
    pub fn publishes(mut self, event_types: &[&str]) -> Self {
        self.publishes
            .extend(event_types.iter().map(|t| (*t).to_owned()));
        self
    }

    /// Declares secret environment variables (see [`Function::secrets`]).
    #[must_use]
    pub fn secrets(mut self, names: &[&str]) -> Self {
        self.secrets.extend(names.iter().map(|n| (*n).to_owned()));
        self
    }

    /// Accepts request bodies up to `bytes` on this function's routes instead of
    /// `MAX_BODY_BYTES` (bulk endpoints such as the catalog import). Body extractors and the
    /// `Idempotency-Key` middleware both honour it.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    pub fn build(mut self) -> Function {
        if let Some(bytes) = self.body_limit {
            // Inside the app's default limit layer, so this one is what extractors see.
            self.router = self
                .router
                .layer(axum::extract::DefaultBodyLimit::max(bytes))
                .layer(axum::Extension(crate::http::BodyLimit(bytes)));
        }
        Function {
            name: self.name,
            trigger: Trigger::Http {
                routes: self.routes,
            },
            publishes: self.publishes,
            secrets: self.secrets,
            router: self.router,
            job: None,
        }
    }
}
