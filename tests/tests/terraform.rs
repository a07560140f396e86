//! The Terraform configuration provisions exactly the generated topology.
//!
//! No GCP provider is available offline, so instead of `terraform plan` this test evaluates the
//! configuration itself with hcl-rs:
//!
//! - every `.tf` file under `terraform/` must parse;
//! - the root module's variables (defaults, then `functions.auto.tfvars.json`), locals and every
//!   resource's `for_each` / `count` are evaluated like Terraform would (the Terraform functions
//!   the configuration uses are re-implemented below, see [`functions`]), `dynamic` blocks are
//!   expanded, and attributes only known after apply (ids, URIs, e-mails, module outputs) are
//!   stood in for by unique placeholders;
//! - the result is compared with the topology: a Cloud Run service per http and event function, a
//!   Cloud Run job per job function, a scheduler job per scheduled job, a topic per event type, a
//!   push subscription per event function (right topic, right service and push path, retry and
//!   dead-letter policy except on the dead-letter consumer), the invoker, Pub/Sub and publisher
//!   IAM, one service account per function, and a URL map that — simulated request by request,
//!   rule priorities and `:method` matches included — routes every route to its function.
//!
//! The same checks also run on a richer built-in topology (overlapping paths, methods of one
//! path on different functions, several consumers), and mutation tests prove the checks catch
//! a narrowed `for_each`, reversed route priorities and a missing dead-letter policy.
//!
//! Run: `cargo test -p platform-tests --test terraform`.

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use hcl::eval::{Context, Evaluate};
use hcl::{Body, Expression, Map, Structure, Value};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::str::FromStr;

/// Values the test gives the variables that have no default (Cloud Build passes them).
const PROJECT: &str = "olympus-test";
const PROJECT_NUMBER: &str = "123456789012";
const REGION: &str = "europe-west1";
const IMAGE_TAG: &str = "0123abc";

fn terraform_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform")
}

// ------------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------------

#[test]
fn every_tf_file_parses() -> Result<()> {
    let files = tf_files(&terraform_dir(), true)?;
    ensure!(
        files.len() > 1,
        "no .tf files found under {}",
        terraform_dir().display()
    );
    Ok(())
}

#[test]
fn terraform_provisions_the_generated_topology() -> Result<()> {
    let path = terraform_dir().join("functions.auto.tfvars.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let topology = Topology::parse(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut evaluation = Evaluation::new(Module::load(&terraform_dir())?, &topology)?;
    check(&mut evaluation, &topology)
}

#[test]
fn terraform_provisions_a_larger_topology() -> Result<()> {
    let topology = Topology::parse(FIXTURE)?;
    let mut evaluation = Evaluation::new(Module::load(&terraform_dir())?, &topology)?;
    check(&mut evaluation, &topology)
}

#[test]
fn service_account_ids_agree_with_terraform() -> Result<()> {
    let topology = Topology::parse(FIXTURE)?;
    let evaluation = Evaluation::new(Module::load(&terraform_dir())?, &topology)?;
    let ids = evaluation
        .locals
        .get("service_account_ids")
        .context("no local.service_account_ids")?;
    // As printed by `terraform console` for this topology.
    for (function, id) in [
        ("get-order", "fn-get-order"),
        (
            "on-order-paid-accrue-loyalty-points-for-customer",
            "fn-on-order-paid-accr-c5232847",
        ),
    ] {
        let actual = string_of(ids, function);
        ensure!(
            actual.as_deref() == Some(id),
            "{function}: {actual:?}, expected {id}"
        );
    }
    Ok(())
}

#[test]
fn a_service_for_each_without_event_functions_is_caught() -> Result<()> {
    let mut module = Module::load(&terraform_dir())?;
    let mutated = module.mutate("google_cloud_run_v2_service", |body| {
        set_attribute(body, &[], "for_each", "local.http_functions")
    })?;
    ensure!(mutated > 0, "no google_cloud_run_v2_service to mutate");
    let failure = checked_failure(module)?;
    ensure!(
        failure.contains("on-order-paid-notify"),
        "the failure does not name the missing event function:\n{failure}"
    );
    Ok(())
}

#[test]
fn reversed_route_priorities_are_caught() -> Result<()> {
    let mut module = Module::load(&terraform_dir())?;
    let mutated = module.mutate("google_compute_url_map", |body| {
        set_attribute(
            body,
            &["path_matcher", "dynamic", "content"],
            "priority",
            "1000000 - route_rules.value.priority",
        )
    })?;
    ensure!(
        mutated > 0,
        "no dynamic route_rules in any google_compute_url_map"
    );
    let failure = checked_failure(module)?;
    ensure!(
        failure.contains("routes to"),
        "the failure is not a misrouting:\n{failure}"
    );
    Ok(())
}

#[test]
fn a_missing_dead_letter_policy_is_caught() -> Result<()> {
    let mut module = Module::load(&terraform_dir())?;
    let mutated = module.mutate("google_pubsub_subscription", |body| {
        let before = body.0.len();
        body.0
            .retain(|structure| !is_block_named(structure, "dead_letter_policy"));
        Ok(body.0.len() < before)
    })?;
    ensure!(mutated > 0, "no dead_letter_policy block to remove");
    let failure = checked_failure(module)?;
    ensure!(
        failure.contains("dead-letter policy"),
        "the failure does not mention the dead-letter policy:\n{failure}"
    );
    Ok(())
}

/// Runs the checks on the built-in topology and returns the failure they must report.
fn checked_failure(module: Module) -> Result<String> {
    let topology = Topology::parse(FIXTURE)?;
    let mut evaluation = Evaluation::new(module, &topology)?;
    match check(&mut evaluation, &topology) {
        Ok(()) => bail!("the checks passed on a broken configuration"),
        Err(error) => Ok(format!("{error:#}")),
    }
}

// ------------------------------------------------------------------------------------------------
// The topology (schema of functions.auto.tfvars.json)
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct Topology {
    functions: BTreeMap<String, Spec>,
    topics: Vec<String>,
    dead_letter_topic: String,
    #[serde(skip)]
    raw: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct Spec {
    kind: String,
    #[serde(default)]
    routes: Vec<Route>,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    push_path: Option<String>,
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    publishes: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Route {
    method: String,
    path: String,
    path_template: String,
}

impl Topology {
    fn parse(text: &str) -> Result<Self> {
        let raw: serde_json::Value = serde_json::from_str(text)?;
        let mut topology: Topology = serde_json::from_value(raw.clone())?;
        topology.raw = raw;
        for (name, spec) in &topology.functions {
            ensure!(
                ["http", "event", "job"].contains(&spec.kind.as_str()),
                "{name}: unknown kind {:?}",
                spec.kind
            );
        }
        Ok(topology)
    }

    fn names(&self, keep: impl Fn(&Spec) -> bool) -> BTreeSet<String> {
        self.functions
            .iter()
            .filter(|(_, spec)| keep(spec))
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn of_kind(&self, kind: &str) -> BTreeSet<String> {
        self.names(|spec| spec.kind == kind)
    }

    /// `var.functions` as Terraform sees it after type conversion: optional attributes are null.
    fn functions_value(&self) -> Result<Value> {
        let mut functions = self
            .raw
            .get("functions")
            .cloned()
            .ok_or_else(|| anyhow!("no `functions` in the topology"))?;
        if let Some(map) = functions.as_object_mut() {
            for spec in map.values_mut() {
                if let Some(spec) = spec.as_object_mut() {
                    for optional in ["topic", "push_path", "schedule", "job_path"] {
                        spec.entry(optional).or_insert(serde_json::Value::Null);
                    }
                    for list in ["routes", "publishes", "secrets"] {
                        spec.entry(list).or_insert(serde_json::json!([]));
                    }
                }
            }
        }
        Ok(json_to_hcl(&functions))
    }
}

/// Terraform maps iterate in key order: sort object keys on the way in.
fn json_to_hcl(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Value::from(u),
            (None, Some(i), _) => Value::from(i),
            (None, None, Some(f)) => Value::from(f),
            (None, None, None) => Value::Null,
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(json_to_hcl).collect()),
        serde_json::Value::Object(object) => {
            let sorted: BTreeMap<&String, &serde_json::Value> = object.iter().collect();
            Value::Object(
                sorted
                    .into_iter()
                    .map(|(key, value)| (key.clone(), json_to_hcl(value)))
                    .collect(),
            )
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Loading a module
// ------------------------------------------------------------------------------------------------

/// Every `.tf` file of `dir` (and below, if `recursive`), parsed, in path order.
fn tf_files(dir: &Path, recursive: bool) -> Result<Vec<(PathBuf, Body)>> {
    parsed_tf_files(dir, recursive, str::to_owned)
}

fn parsed_tf_files(
    dir: &Path,
    recursive: bool,
    prepare: impl Fn(&str) -> String,
) -> Result<Vec<(PathBuf, Body)>> {
    let mut paths = Vec::new();
    collect_tf_paths(dir, recursive, &mut paths)?;
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let body = hcl::parse(&prepare(&text))
                .with_context(|| format!("parsing {}", path.display()))?;
            Ok((path, body))
        })
        .collect()
}

/// Rewrites `var.NAME` / `local.NAME` to the single variables `var__NAME` / `local__NAME`.
///
/// Same meaning, but hcl-rs clones a variable's whole value on every reference: with one `var`
/// and one `local` object, every `var.project_id` would copy the whole topology, and the test
/// would grow quadratically with the number of functions.
fn flatten_references(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find(['v', 'l']) {
        let (before, from) = rest.split_at(position);
        out.push_str(before);
        let boundary = !out
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
        let prefix = ["var.", "local."]
            .into_iter()
            .find(|prefix| from.starts_with(prefix));
        match prefix {
            Some(prefix)
                if boundary
                    && from[prefix.len()..]
                        .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') =>
            {
                out.push_str(&prefix[..prefix.len() - 1]);
                out.push_str("__");
                rest = &from[prefix.len()..];
            }
            _ => {
                out.push_str(&from[..1]);
                rest = &from[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn references_are_flattened_only_where_they_are_references() {
    assert_eq!(
        flatten_references(r#"x = "${var.region}/${local.a}" y = myvar.b z = each.value.local.c"#),
        r#"x = "${var__region}/${local__a}" y = myvar.b z = each.value.local.c"#
    );
    assert_eq!(
        flatten_references("for v in local.l : v"),
        "for v in local__l : v"
    );
}

fn collect_tf_paths(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if recursive && !name.starts_with('.') {
                collect_tf_paths(&path, recursive, out)?;
            }
        } else if path.extension().is_some_and(|ext| ext == "tf") {
            out.push(path);
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
struct Resource {
    data: bool,
    kind: String,
    name: String,
    body: Body,
}

impl Resource {
    fn address(&self) -> String {
        let prefix = if self.data { "data." } else { "" };
        format!("{prefix}{}.{}", self.kind, self.name)
    }

    fn attribute(&self, key: &str) -> Option<&Expression> {
        self.body
            .attributes()
            .find(|attribute| attribute.key.as_str() == key)
            .map(|attribute| &attribute.expr)
    }
}

/// The root module: what the evaluation needs of it.
#[derive(Debug)]
struct Module {
    variables: Vec<(String, Option<Expression>)>,
    locals: Vec<(String, Expression)>,
    resources: Vec<Resource>,
    /// Module calls: name and the output names of their source directory.
    calls: Vec<(String, Vec<String>)>,
}

impl Module {
    fn load(dir: &Path) -> Result<Self> {
        let mut module = Module {
            variables: Vec::new(),
            locals: Vec::new(),
            resources: Vec::new(),
            calls: Vec::new(),
        };
        for (path, body) in parsed_tf_files(dir, false, flatten_references)? {
            for block in body.blocks() {
                let labels: Vec<&str> = block.labels.iter().map(hcl::BlockLabel::as_str).collect();
                let at = || format!("{} in {}", block.identifier, path.display());
                match (block.identifier.as_str(), labels.as_slice()) {
                    ("variable", [name]) => {
                        let default = block
                            .body
                            .attributes()
                            .find(|a| a.key.as_str() == "default")
                            .map(|a| a.expr.clone());
                        module.variables.push(((*name).to_owned(), default));
                    }
                    ("locals", []) => {
                        for attribute in block.body.attributes() {
                            module
                                .locals
                                .push((attribute.key.to_string(), attribute.expr.clone()));
                        }
                    }
                    ("resource" | "data", [kind, name]) => module.resources.push(Resource {
                        data: block.identifier.as_str() == "data",
                        kind: (*kind).to_owned(),
                        name: (*name).to_owned(),
                        body: block.body.clone(),
                    }),
                    ("module", [name]) => {
                        let source = block
                            .body
                            .attributes()
                            .find(|a| a.key.as_str() == "source")
                            .and_then(|a| match &a.expr {
                                Expression::String(source) => Some(source.clone()),
                                _ => None,
                            })
                            .with_context(|| {
                                format!("module {name}: no literal source, {}", at())
                            })?;
                        let mut outputs = Vec::new();
                        for (_, body) in tf_files(&dir.join(&source), false)? {
                            for output in
                                body.blocks().filter(|b| b.identifier.as_str() == "output")
                            {
                                if let Some(label) = output.labels.first() {
                                    outputs.push(label.as_str().to_owned());
                                }
                            }
                        }
                        module.calls.push(((*name).to_owned(), outputs));
                    }
                    ("resource" | "data" | "variable" | "module" | "locals", _) => {
                        bail!("unexpected labels {labels:?} on {}", at())
                    }
                    _ => {}
                }
            }
        }
        Ok(module)
    }

    /// Applies `change` to the body of every resource of `kind`; returns how many it changed.
    fn mutate(&mut self, kind: &str, change: impl Fn(&mut Body) -> Result<bool>) -> Result<usize> {
        let mut changed = 0;
        for resource in self
            .resources
            .iter_mut()
            .filter(|r| !r.data && r.kind == kind)
        {
            if change(&mut resource.body)? {
                changed += 1;
            }
        }
        Ok(changed)
    }
}

fn is_block_named(structure: &Structure, name: &str) -> bool {
    match structure {
        Structure::Block(block) => {
            block.identifier.as_str() == name
                || (block.identifier.as_str() == "dynamic"
                    && block
                        .labels
                        .first()
                        .is_some_and(|label| label.as_str() == name))
        }
        Structure::Attribute(_) => false,
    }
}

/// Replaces attribute `key` in the block reached through `path` (block identifiers).
fn set_attribute(body: &mut Body, path: &[&str], key: &str, expr: &str) -> Result<bool> {
    let Some((first, rest)) = path.split_first() else {
        let expr = Expression::from_str(&flatten_references(expr))?;
        let mut found = false;
        for structure in &mut body.0 {
            if let Structure::Attribute(attribute) = structure
                && attribute.key.as_str() == key
            {
                attribute.expr = expr.clone();
                found = true;
            }
        }
        return Ok(found);
    };
    let mut found = false;
    for structure in &mut body.0 {
        if let Structure::Block(block) = structure
            && block.identifier.as_str() == *first
        {
            found |= set_attribute(&mut block.body, rest, key, expr)?;
        }
    }
    Ok(found)
}

// ------------------------------------------------------------------------------------------------
// Evaluation
// ------------------------------------------------------------------------------------------------

/// Meta-arguments: not attributes of the resource's stub.
const META: [&str; 5] = ["for_each", "count", "depends_on", "provider", "lifecycle"];

#[derive(Debug, Clone)]
enum Key {
    Single,
    Each(String, Value),
    Index(usize),
}

impl Key {
    fn describe(&self) -> String {
        match self {
            Key::Single => String::new(),
            Key::Each(key, _) => format!("[{key:?}]"),
            Key::Index(index) => format!("[{index}]"),
        }
    }
}

/// A resource block evaluated: its instances, as a body with dynamic blocks expanded.
#[derive(Debug, Default, Clone)]
struct Node {
    attributes: BTreeMap<String, Result<Value, String>>,
    blocks: Vec<(String, Node)>,
    /// Dynamic blocks whose for_each failed, by block name.
    failed: BTreeMap<String, String>,
}

impl Node {
    fn value(&self, key: &str) -> Result<&Value> {
        match self.attributes.get(key) {
            Some(Ok(value)) => Ok(value),
            Some(Err(error)) => bail!("{key} does not evaluate: {error}"),
            None => bail!("no attribute {key}"),
        }
    }

    fn string(&self, key: &str) -> Result<&str> {
        let value = self.value(key)?;
        value
            .as_str()
            .ok_or_else(|| anyhow!("{key} is {value}, not a string"))
    }

    fn number(&self, key: &str) -> Result<i64> {
        let value = self.value(key)?;
        value
            .as_i64()
            .ok_or_else(|| anyhow!("{key} is {value}, not an integer"))
    }

    fn blocks<'a>(&'a self, name: &str) -> Result<Vec<&'a Node>> {
        if let Some(error) = self.failed.get(name) {
            bail!("dynamic {name}: for_each does not evaluate: {error}");
        }
        Ok(self
            .blocks
            .iter()
            .filter(|(block, _)| block == name)
            .map(|(_, node)| node)
            .collect())
    }

    /// The one block at `path` (dot-separated).
    fn block(&self, path: &str) -> Result<&Node> {
        let mut node = self;
        for name in path.split('.') {
            let blocks = node.blocks(name)?;
            ensure!(
                blocks.len() == 1,
                "{} {name} blocks, expected one",
                blocks.len()
            );
            node = blocks[0];
        }
        Ok(node)
    }
}

#[derive(Debug)]
struct Instance {
    address: String,
    key: Option<String>,
    node: Node,
    stub: Value,
}

struct Evaluation {
    ctx: Context<'static>,
    module: Module,
    locals: Map<String, Value>,
    instances: Vec<Option<Vec<Key>>>,
    errors: BTreeMap<String, String>,
    expanded: BTreeMap<String, Rc<Vec<Instance>>>,
}

impl Evaluation {
    fn new(module: Module, topology: &Topology) -> Result<Self> {
        let mut ctx = Context::new();
        for (name, func) in functions() {
            ctx.declare_func(name, func);
        }

        let mut tfvars = BTreeMap::new();
        tfvars.insert("functions".to_owned(), topology.functions_value()?);
        tfvars.insert(
            "topics".to_owned(),
            Value::Array(
                topology
                    .topics
                    .iter()
                    .map(|t| Value::from(t.as_str()))
                    .collect(),
            ),
        );
        tfvars.insert(
            "dead_letter_topic".to_owned(),
            Value::from(topology.dead_letter_topic.as_str()),
        );
        tfvars.insert("project_id".to_owned(), Value::from(PROJECT));
        tfvars.insert("region".to_owned(), Value::from(REGION));
        tfvars.insert("image_tag".to_owned(), Value::from(IMAGE_TAG));

        for (name, default) in &module.variables {
            let value = match (tfvars.remove(name), default) {
                (Some(value), _) => value,
                (None, Some(default)) => default
                    .evaluate(&ctx)
                    .with_context(|| format!("default of variable {name}"))?,
                // A new required variable: a recognisable placeholder.
                (None, None) => Value::from(format!("var.{name}")),
            };
            ctx.declare_var(format!("var__{name}"), value);
        }
        ensure!(
            tfvars.is_empty(),
            "the topology sets variables Terraform does not declare: {:?}",
            tfvars.keys().collect::<Vec<_>>()
        );
        ctx.declare_var("path", object([("module", Value::from("."))]));

        let mut modules = Map::new();
        for (name, outputs) in &module.calls {
            let outputs: Map<String, Value> = outputs
                .iter()
                .map(|o| (o.clone(), Value::from(format!("module.{name}.{o}"))))
                .collect();
            modules.insert(name.clone(), Value::Object(outputs));
        }
        ctx.declare_var("module", Value::Object(modules));

        let count = module.resources.len();
        let mut evaluation = Evaluation {
            ctx,
            module,
            locals: Map::new(),
            instances: vec![None; count],
            errors: BTreeMap::new(),
            expanded: BTreeMap::new(),
        };
        evaluation.resolve();
        Ok(evaluation)
    }

    /// Evaluates locals and instance keys until nothing more resolves (they may depend on each
    /// other in any order), then settles the stubs.
    fn resolve(&mut self) {
        loop {
            let mut progress = false;
            for index in 0..self.module.locals.len() {
                let (name, expr) = &self.module.locals[index];
                if self.locals.contains_key(name) {
                    continue;
                }
                match expr.evaluate(&self.ctx) {
                    Ok(value) => {
                        self.ctx
                            .declare_var(format!("local__{name}"), value.clone());
                        self.locals.insert(name.clone(), value);
                        self.errors.remove(&format!("local.{name}"));
                        progress = true;
                    }
                    Err(error) => {
                        self.errors
                            .insert(format!("local.{name}"), error.to_string());
                    }
                }
            }
            for index in 0..self.module.resources.len() {
                if self.instances[index].is_some() {
                    continue;
                }
                let resource = &self.module.resources[index];
                match keys(&self.ctx, resource) {
                    Ok(keys) => {
                        self.errors.remove(&resource.address());
                        self.instances[index] = Some(keys);
                        progress = true;
                    }
                    Err(error) => {
                        self.errors.insert(resource.address(), format!("{error:#}"));
                    }
                }
            }
            // Placeholders only while keys resolve: cheap, and all a for_each may use.
            self.declare_stubs(false);
            if !progress {
                break;
            }
        }
        // Stub attributes may refer to other stubs: evaluate until they are stable.
        for _ in 0..8 {
            if !self.declare_stubs(true) {
                break;
            }
        }
    }

    /// Declares one variable per resource type (and `data`) holding every instance's stub
    /// (with its evaluated attributes if `full`); returns whether anything changed.
    fn declare_stubs(&mut self, full: bool) -> bool {
        let mut managed: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        let mut data: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        for (index, resource) in self.module.resources.iter().enumerate() {
            let Some(keys) = &self.instances[index] else {
                continue;
            };
            let stubs: Vec<(Key, Value)> = keys
                .iter()
                .map(|key| {
                    enter(&mut self.ctx, key);
                    (key.clone(), stub(&self.ctx, resource, key, full))
                })
                .collect();
            let value = if resource.attribute("for_each").is_some() {
                Value::Object(
                    stubs
                        .into_iter()
                        .filter_map(|(key, stub)| match key {
                            Key::Each(key, _) => Some((key, stub)),
                            _ => None,
                        })
                        .collect(),
                )
            } else if resource.attribute("count").is_some() {
                Value::Array(stubs.into_iter().map(|(_, stub)| stub).collect())
            } else {
                stubs.into_iter().next().map(|(_, s)| s).unwrap_or_default()
            };
            let by_type = if resource.data {
                &mut data
            } else {
                &mut managed
            };
            by_type
                .entry(resource.kind.clone())
                .or_default()
                .insert(resource.name.clone(), value);
        }
        let mut changed = false;
        let mut declare = |ctx: &mut Context<'static>, name: &str, value: Value| {
            if lookup(ctx, name).as_ref() != Some(&value) {
                changed = true;
                ctx.declare_var(name.to_owned(), value);
            }
        };
        for (kind, resources) in managed {
            declare(&mut self.ctx, &kind, Value::Object(resources));
        }
        let data: Map<String, Value> = data
            .into_iter()
            .map(|(kind, resources)| (kind, Value::Object(resources)))
            .collect();
        declare(&mut self.ctx, "data", Value::Object(data));
        changed
    }

    /// Every instance of every managed resource of `kind`, expanded (once).
    fn instances(&mut self, kind: &str) -> Result<Rc<Vec<Instance>>> {
        if let Some(expanded) = self.expanded.get(kind) {
            return Ok(Rc::clone(expanded));
        }
        let mut out = Vec::new();
        for (index, resource) in self.module.resources.iter().enumerate() {
            if resource.data || resource.kind != kind {
                continue;
            }
            let Some(keys) = &self.instances[index] else {
                bail!(
                    "{}: for_each/count does not evaluate: {}",
                    resource.address(),
                    self.errors
                        .get(&resource.address())
                        .map_or("(unknown)", String::as_str)
                );
            };
            for key in keys {
                enter(&mut self.ctx, key);
                let node = expand(&mut self.ctx, &resource.body);
                out.push(Instance {
                    address: format!("{}{}", resource.address(), key.describe()),
                    key: match key {
                        Key::Each(key, _) => Some(key.clone()),
                        _ => None,
                    },
                    stub: stub(&self.ctx, resource, key, true),
                    node,
                });
            }
        }
        let out = Rc::new(out);
        self.expanded.insert(kind.to_owned(), Rc::clone(&out));
        Ok(out)
    }

    fn var(&self, name: &str) -> Result<Value> {
        lookup(&self.ctx, &format!("var__{name}")).ok_or_else(|| anyhow!("no variable {name}"))
    }
}

fn lookup(ctx: &Context<'static>, name: &str) -> Option<Value> {
    Expression::from_str(name).ok()?.evaluate(ctx).ok()
}

fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// Declares `each` / `count` for one instance.
fn enter(ctx: &mut Context<'static>, key: &Key) {
    match key {
        Key::Single => {
            ctx.declare_var("each", Value::Null);
            ctx.declare_var("count", Value::Null);
        }
        Key::Each(key, value) => {
            ctx.declare_var(
                "each",
                object([("key", Value::from(key.as_str())), ("value", value.clone())]),
            );
            ctx.declare_var("count", Value::Null);
        }
        Key::Index(index) => {
            ctx.declare_var("each", Value::Null);
            ctx.declare_var("count", object([("index", Value::from(*index))]));
        }
    }
}

/// The instance keys of a resource, from its `for_each` or `count`.
fn keys(ctx: &Context<'static>, resource: &Resource) -> Result<Vec<Key>> {
    if let Some(for_each) = resource.attribute("for_each") {
        return match for_each.evaluate(ctx)? {
            Value::Object(map) => Ok(map.into_iter().map(|(k, v)| Key::Each(k, v)).collect()),
            // A set of strings: each.key == each.value.
            Value::Array(items) => {
                let mut keys = Vec::new();
                let mut seen = BTreeSet::new();
                for item in items {
                    let key = item
                        .as_str()
                        .ok_or_else(|| anyhow!("for_each set element {item} is not a string"))?
                        .to_owned();
                    ensure!(seen.insert(key.clone()), "for_each has {key:?} twice");
                    keys.push(Key::Each(key, item));
                }
                Ok(keys)
            }
            other => bail!("for_each is {other}, not a map or set"),
        };
    }
    if let Some(count) = resource.attribute("count") {
        let count = count.evaluate(ctx)?;
        let count = count
            .as_u64()
            .ok_or_else(|| anyhow!("count is {count}, not a whole number"))?;
        return Ok((0..usize::try_from(count)?).map(Key::Index).collect());
    }
    Ok(vec![Key::Single])
}

/// What other resources see of an instance: its top-level attributes that evaluate, plus unique
/// placeholders for the attributes only known after apply.
fn stub(ctx: &Context<'static>, resource: &Resource, key: &Key, full: bool) -> Value {
    let mut attributes = Map::new();
    for attribute in resource.body.attributes() {
        if !full || META.contains(&attribute.key.as_str()) {
            continue;
        }
        if let Ok(value) = attribute.expr.evaluate(ctx) {
            attributes.insert(attribute.key.to_string(), value);
        }
    }
    let id = format!("{}{}", resource.address(), key.describe());
    let name = match (attributes.get("name").and_then(Value::as_str), key) {
        (Some(name), _) => name.to_owned(),
        (None, Key::Each(key, _)) => key.clone(),
        (None, _) => resource.name.clone(),
    };
    let email = match attributes.get("account_id").and_then(Value::as_str) {
        Some(account) => format!("{account}@{PROJECT}.iam.gserviceaccount.com"),
        None => format!("{name}@stub.invalid"),
    };
    let mut stub: Map<String, Value> = [
        ("name", Value::from(name.as_str())),
        ("secret_id", Value::from(name.as_str())),
        ("project_id", Value::from(PROJECT)),
        ("project", Value::from(PROJECT)),
        ("number", Value::from(PROJECT_NUMBER)),
        ("address", Value::from("192.0.2.10")),
        (
            "connection_name",
            Value::from(format!("{PROJECT}:{REGION}:{name}")),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    stub.extend(attributes);
    stub.insert("id".to_owned(), Value::from(id.as_str()));
    stub.insert("self_link".to_owned(), Value::from(id.as_str()));
    stub.entry("uri".to_owned())
        .or_insert_with(|| Value::from(format!("https://{name}-stub.a.run.app")));
    stub.entry("member".to_owned())
        .or_insert_with(|| Value::from(format!("serviceAccount:{email}")));
    stub.entry("email".to_owned())
        .or_insert_with(|| Value::from(email));
    Value::Object(stub)
}

/// Evaluates a body with the current `each` / `count`, expanding dynamic blocks.
fn expand(ctx: &mut Context<'static>, body: &Body) -> Node {
    let mut node = Node::default();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attribute) => {
                node.attributes.insert(
                    attribute.key.to_string(),
                    attribute.expr.evaluate(ctx).map_err(|e| e.to_string()),
                );
            }
            Structure::Block(block) if block.identifier.as_str() == "dynamic" => {
                let label = block
                    .labels
                    .first()
                    .map(|l| l.as_str().to_owned())
                    .unwrap_or_default();
                let attribute = |key: &str| {
                    block
                        .body
                        .attributes()
                        .find(|a| a.key.as_str() == key)
                        .map(|a| &a.expr)
                };
                let iterator =
                    attribute("iterator").map_or_else(|| label.clone(), ToString::to_string);
                let collection = attribute("for_each")
                    .ok_or_else(|| "no for_each".to_owned())
                    .and_then(|e| e.evaluate(ctx).map_err(|e| e.to_string()));
                let pairs: Vec<(Value, Value)> = match collection {
                    Ok(Value::Object(map)) => {
                        map.into_iter().map(|(k, v)| (Value::from(k), v)).collect()
                    }
                    Ok(Value::Array(items)) => items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (Value::from(i), v))
                        .collect(),
                    Ok(other) => {
                        node.failed
                            .insert(label, format!("{other} is not a collection"));
                        continue;
                    }
                    Err(error) => {
                        node.failed.insert(label, error);
                        continue;
                    }
                };
                let content = block
                    .body
                    .blocks()
                    .find(|b| b.identifier.as_str() == "content");
                for (key, value) in pairs {
                    ctx.declare_var(iterator.clone(), object([("key", key), ("value", value)]));
                    let expanded = content.map(|c| expand(ctx, &c.body)).unwrap_or_default();
                    node.blocks.push((label.clone(), expanded));
                }
            }
            Structure::Block(block) => {
                let expanded = expand(ctx, &block.body);
                node.blocks.push((block.identifier.to_string(), expanded));
            }
        }
    }
    node
}

// ------------------------------------------------------------------------------------------------
// Terraform functions used by the configuration (simplified to what it needs)
// ------------------------------------------------------------------------------------------------

/// The functions get their arguments by value: the signature is hcl-rs's `Func`.
#[allow(clippy::needless_pass_by_value)]
mod terraform_functions {
    use hcl::eval::{FuncArgs, FuncDef, ParamType};
    use hcl::{Map, Value};
    use std::collections::{BTreeMap, BTreeSet};

    pub(crate) fn functions() -> Vec<(&'static str, FuncDef)> {
        use ParamType::{Any, String as Str};
        let fixed = |params: Vec<ParamType>, func: hcl::eval::Func| FuncDef::new(func, params);
        let variadic = |func: hcl::eval::Func| FuncDef::builder().variadic_param(Any).build(func);
        vec![
            ("alltrue", fixed(vec![Any], tf_alltrue)),
            ("anytrue", fixed(vec![Any], tf_anytrue)),
            ("coalesce", variadic(tf_coalesce)),
            ("concat", variadic(tf_concat)),
            ("contains", fixed(vec![Any, Any], tf_contains)),
            ("distinct", fixed(vec![Any], tf_distinct)),
            ("endswith", fixed(vec![Str, Str], tf_endswith)),
            ("flatten", fixed(vec![Any], tf_flatten)),
            ("join", fixed(vec![Str, Any], tf_join)),
            ("jsonencode", fixed(vec![Any], tf_jsonencode)),
            ("keys", fixed(vec![Any], tf_keys)),
            ("length", fixed(vec![Any], tf_length)),
            ("lookup", fixed(vec![Any, Str, Any], tf_lookup)),
            ("lower", fixed(vec![Str], tf_lower)),
            ("merge", variadic(tf_merge)),
            ("replace", fixed(vec![Str, Str, Str], tf_replace)),
            ("sha1", fixed(vec![Str], tf_sha1)),
            ("sort", fixed(vec![Any], tf_sort)),
            ("split", fixed(vec![Str, Str], tf_split)),
            ("startswith", fixed(vec![Str, Str], tf_startswith)),
            ("strcontains", fixed(vec![Str, Str], tf_strcontains)),
            ("substr", fixed(vec![Str, Any, Any], tf_substr)),
            ("tolist", fixed(vec![Any], tf_identity)),
            ("toset", fixed(vec![Any], tf_toset)),
            ("tostring", fixed(vec![Any], tf_tostring)),
            ("upper", fixed(vec![Str], tf_upper)),
            ("values", fixed(vec![Any], tf_values)),
        ]
    }

    type FuncResult = Result<Value, String>;

    fn arg_str(args: &FuncArgs, index: usize) -> Result<&str, String> {
        args.get(index)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("argument {index} must be a string"))
    }

    fn arg_array(args: &FuncArgs, index: usize) -> Result<&Vec<Value>, String> {
        args.get(index)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("argument {index} must be a list or set"))
    }

    fn arg_object(args: &FuncArgs, index: usize) -> Result<&Map<String, Value>, String> {
        args.get(index)
            .and_then(Value::as_object)
            .ok_or_else(|| format!("argument {index} must be a map or object"))
    }

    fn arg_int(args: &FuncArgs, index: usize) -> Result<i64, String> {
        args.get(index)
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("argument {index} must be a whole number"))
    }

    fn tf_alltrue(args: FuncArgs) -> FuncResult {
        Ok(Value::Bool(
            arg_array(&args, 0)?
                .iter()
                .all(|v| v.as_bool() == Some(true)),
        ))
    }

    fn tf_anytrue(args: FuncArgs) -> FuncResult {
        Ok(Value::Bool(
            arg_array(&args, 0)?
                .iter()
                .any(|v| v.as_bool() == Some(true)),
        ))
    }

    fn tf_coalesce(args: FuncArgs) -> FuncResult {
        args.iter()
            .find(|v| !v.is_null() && v.as_str() != Some(""))
            .cloned()
            .ok_or_else(|| "no non-null, non-empty argument".to_owned())
    }

    fn tf_concat(args: FuncArgs) -> FuncResult {
        let mut out = Vec::new();
        for (index, arg) in args.iter().enumerate() {
            let items = arg
                .as_array()
                .ok_or_else(|| format!("argument {index} must be a list"))?;
            out.extend(items.iter().cloned());
        }
        Ok(Value::Array(out))
    }

    fn tf_contains(args: FuncArgs) -> FuncResult {
        let needle = args.get(1).cloned().unwrap_or_default();
        Ok(Value::Bool(arg_array(&args, 0)?.contains(&needle)))
    }

    fn tf_distinct(args: FuncArgs) -> FuncResult {
        let mut out: Vec<Value> = Vec::new();
        for item in arg_array(&args, 0)? {
            if !out.contains(item) {
                out.push(item.clone());
            }
        }
        Ok(Value::Array(out))
    }

    fn tf_endswith(args: FuncArgs) -> FuncResult {
        Ok(Value::Bool(
            arg_str(&args, 0)?.ends_with(arg_str(&args, 1)?),
        ))
    }

    fn tf_flatten(args: FuncArgs) -> FuncResult {
        fn flatten_into(items: &[Value], out: &mut Vec<Value>) {
            for item in items {
                match item {
                    Value::Array(inner) => flatten_into(inner, out),
                    other => out.push(other.clone()),
                }
            }
        }
        let mut out = Vec::new();
        flatten_into(arg_array(&args, 0)?, &mut out);
        Ok(Value::Array(out))
    }

    fn tf_join(args: FuncArgs) -> FuncResult {
        let parts = arg_array(&args, 1)?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{v} is not a string"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Value::from(parts.join(arg_str(&args, 0)?)))
    }

    fn tf_jsonencode(args: FuncArgs) -> FuncResult {
        serde_json::to_string(&args[0])
            .map(Value::from)
            .map_err(|e| e.to_string())
    }

    fn tf_keys(args: FuncArgs) -> FuncResult {
        let mut keys: Vec<&String> = arg_object(&args, 0)?.keys().collect();
        keys.sort();
        Ok(Value::Array(
            keys.into_iter().map(|k| Value::from(k.as_str())).collect(),
        ))
    }

    fn tf_values(args: FuncArgs) -> FuncResult {
        let sorted: BTreeMap<&String, &Value> = arg_object(&args, 0)?.iter().collect();
        Ok(Value::Array(sorted.into_values().cloned().collect()))
    }

    fn tf_length(args: FuncArgs) -> FuncResult {
        let length = match &args[0] {
            Value::String(s) => s.chars().count(),
            Value::Array(items) => items.len(),
            Value::Object(map) => map.len(),
            other => return Err(format!("length of {other}")),
        };
        Ok(Value::from(length))
    }

    fn tf_lookup(args: FuncArgs) -> FuncResult {
        let map = arg_object(&args, 0)?;
        Ok(map
            .get(arg_str(&args, 1)?)
            .cloned()
            .unwrap_or_else(|| args[2].clone()))
    }

    fn tf_lower(args: FuncArgs) -> FuncResult {
        Ok(Value::from(arg_str(&args, 0)?.to_lowercase()))
    }

    fn tf_upper(args: FuncArgs) -> FuncResult {
        Ok(Value::from(arg_str(&args, 0)?.to_uppercase()))
    }

    fn tf_merge(args: FuncArgs) -> FuncResult {
        let mut out = Map::new();
        for (index, arg) in args.iter().enumerate() {
            match arg {
                Value::Null => {}
                Value::Object(map) => out.extend(map.iter().map(|(k, v)| (k.clone(), v.clone()))),
                _ => return Err(format!("argument {index} must be a map or object")),
            }
        }
        out.sort_keys();
        Ok(Value::Object(out))
    }

    fn tf_replace(args: FuncArgs) -> FuncResult {
        let pattern = arg_str(&args, 1)?;
        if pattern.len() > 1 && pattern.starts_with('/') && pattern.ends_with('/') {
            return Err("regular-expression replace is not implemented by the test".to_owned());
        }
        Ok(Value::from(
            arg_str(&args, 0)?.replace(pattern, arg_str(&args, 2)?),
        ))
    }

    fn tf_sha1(args: FuncArgs) -> FuncResult {
        Ok(Value::from(sha1_hex(arg_str(&args, 0)?.as_bytes())))
    }

    /// SHA-1 (FIPS 180-4), as Terraform's `sha1`: a few lines instead of a dependency.
    pub(crate) fn sha1_hex(input: &[u8]) -> String {
        let mut h: [u32; 5] = [
            0x6745_2301,
            0xEFCD_AB89,
            0x98BA_DCFE,
            0x1032_5476,
            0xC3D2_E1F0,
        ];
        let mut message = input.to_vec();
        let bit_length = (input.len() as u64).wrapping_mul(8);
        message.push(0x80);
        while message.len() % 64 != 56 {
            message.push(0);
        }
        message.extend_from_slice(&bit_length.to_be_bytes());
        for chunk in message.chunks_exact(64) {
            let mut w = [0u32; 80];
            for (i, word) in chunk.chunks_exact(4).enumerate() {
                w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
            }
            for i in 16..80 {
                w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
            }
            let [mut a, mut b, mut c, mut d, mut e] = h;
            for (i, word) in w.iter().enumerate() {
                let (f, k) = match i {
                    0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                    20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                    40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                    _ => (b ^ c ^ d, 0xCA62_C1D6),
                };
                let t = a
                    .rotate_left(5)
                    .wrapping_add(f)
                    .wrapping_add(e)
                    .wrapping_add(k)
                    .wrapping_add(*word);
                e = d;
                d = c;
                c = b.rotate_left(30);
                b = a;
                a = t;
            }
            for (state, value) in h.iter_mut().zip([a, b, c, d, e]) {
                *state = state.wrapping_add(value);
            }
        }
        h.iter().map(|word| format!("{word:08x}")).collect()
    }

    fn tf_sort(args: FuncArgs) -> FuncResult {
        let mut items = arg_array(&args, 0)?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{v} is not a string"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        items.sort();
        Ok(Value::Array(items.into_iter().map(Value::from).collect()))
    }

    fn tf_split(args: FuncArgs) -> FuncResult {
        Ok(Value::Array(
            arg_str(&args, 1)?
                .split(arg_str(&args, 0)?)
                .map(Value::from)
                .collect(),
        ))
    }

    fn tf_startswith(args: FuncArgs) -> FuncResult {
        Ok(Value::Bool(
            arg_str(&args, 0)?.starts_with(arg_str(&args, 1)?),
        ))
    }

    fn tf_strcontains(args: FuncArgs) -> FuncResult {
        Ok(Value::Bool(arg_str(&args, 0)?.contains(arg_str(&args, 1)?)))
    }

    fn tf_substr(args: FuncArgs) -> FuncResult {
        let chars: Vec<char> = arg_str(&args, 0)?.chars().collect();
        let offset =
            usize::try_from(arg_int(&args, 1)?).map_err(|_| "negative offset".to_owned())?;
        let length = arg_int(&args, 2)?;
        let start = offset.min(chars.len());
        let end = if length < 0 {
            chars.len()
        } else {
            start
                .saturating_add(usize::try_from(length).map_err(|e| e.to_string())?)
                .min(chars.len())
        };
        Ok(Value::from(chars[start..end].iter().collect::<String>()))
    }

    fn tf_identity(args: FuncArgs) -> FuncResult {
        Ok(args[0].clone())
    }

    /// Sets of strings iterate in lexical order in Terraform.
    fn tf_toset(args: FuncArgs) -> FuncResult {
        let items = arg_array(&args, 0)?;
        if items.iter().all(Value::is_string) {
            let sorted: BTreeSet<&str> = items.iter().filter_map(Value::as_str).collect();
            return Ok(Value::Array(sorted.into_iter().map(Value::from).collect()));
        }
        tf_distinct(args)
    }

    fn tf_tostring(args: FuncArgs) -> FuncResult {
        match &args[0] {
            Value::String(s) => Ok(Value::from(s.as_str())),
            Value::Number(n) => Ok(Value::from(n.to_string())),
            Value::Bool(b) => Ok(Value::from(b.to_string())),
            Value::Null => Ok(Value::Null),
            other => Err(format!("tostring of {other}")),
        }
    }
}

use terraform_functions::{functions, sha1_hex};

#[test]
fn sha1_matches_the_standard() {
    assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

// ------------------------------------------------------------------------------------------------
// The checks
// ------------------------------------------------------------------------------------------------

/// Collects every problem instead of stopping at the first.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(problem());
        }
    }

    fn result<T>(&mut self, context: &str, result: Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(format!("{context}: {error:#}"));
                None
            }
        }
    }

    fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            bail!(
                "{} problem(s) in terraform/:\n- {}",
                self.0.len(),
                self.0.join("\n- ")
            )
        }
    }
}

fn set<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> BTreeSet<String> {
    items.into_iter().map(Into::into).collect()
}

fn string_of(value: &Value, key: &str) -> Option<String> {
    value.as_object()?.get(key)?.as_str().map(str::to_owned)
}

/// The instance keys of every resource of `kind`, checking that no key appears twice.
fn key_set(problems: &mut Problems, kind: &str, instances: &[Instance]) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for instance in instances {
        match &instance.key {
            Some(key) => problems.check(keys.insert(key.clone()), || {
                format!("{kind}: {key} has more than one instance")
            }),
            None => problems
                .0
                .push(format!("{}: expected for_each", instance.address)),
        }
    }
    keys
}

fn compare_sets(
    problems: &mut Problems,
    what: &str,
    actual: &BTreeSet<String>,
    expected: &BTreeSet<String>,
) {
    let missing: Vec<_> = expected.difference(actual).collect();
    let extra: Vec<_> = actual.difference(expected).collect();
    problems.check(missing.is_empty() && extra.is_empty(), || {
        format!("{what}: missing {missing:?}, unexpected {extra:?}")
    });
}

fn check(evaluation: &mut Evaluation, topology: &Topology) -> Result<()> {
    let mut problems = Problems::default();
    check_topology_consistency(&mut problems, topology);
    let accounts = check_runtimes(&mut problems, evaluation, topology)?;
    check_scheduler(&mut problems, evaluation, topology)?;
    check_pubsub(&mut problems, evaluation, topology, &accounts)?;
    check_url_map(&mut problems, evaluation, topology)?;
    problems.into_result()
}

/// The generated file is internally consistent (Terraform indexes topics by these names).
fn check_topology_consistency(problems: &mut Problems, topology: &Topology) {
    let topics = set(topology.topics.iter().map(String::as_str));
    problems.check(!topics.contains(&topology.dead_letter_topic), || {
        "topics must not list the dead-letter topic".to_owned()
    });
    for (name, spec) in &topology.functions {
        if spec.kind == "event" {
            let topic = spec.topic.clone().unwrap_or_default();
            problems.check(
                topics.contains(&topic) || topic == topology.dead_letter_topic,
                || format!("{name} consumes {topic:?}, which is not a topic"),
            );
        }
        for topic in &spec.publishes {
            problems.check(topics.contains(topic), || {
                format!("{name} publishes {topic:?}, which is not a topic")
            });
        }
    }
}

/// Cloud Run services and jobs; returns each function's runtime service account e-mail.
fn check_runtimes(
    problems: &mut Problems,
    evaluation: &mut Evaluation,
    topology: &Topology,
) -> Result<BTreeMap<String, String>> {
    let services: &[Instance] = &evaluation.instances("google_cloud_run_v2_service")?;
    let jobs: &[Instance] = &evaluation.instances("google_cloud_run_v2_job")?;
    let service_keys = key_set(problems, "google_cloud_run_v2_service", services);
    let job_keys = key_set(problems, "google_cloud_run_v2_job", jobs);
    let mut expected_services = topology.of_kind("http");
    expected_services.extend(topology.of_kind("event"));
    compare_sets(
        problems,
        "Cloud Run services (http and event functions)",
        &service_keys,
        &expected_services,
    );
    compare_sets(
        problems,
        "Cloud Run jobs (job functions)",
        &job_keys,
        &topology.of_kind("job"),
    );

    let registry_prefix = format!("{REGION}-docker.pkg.dev/{PROJECT}/");
    let mut accounts = BTreeMap::new();
    for (instance, template_path) in services
        .iter()
        .map(|i| (i, "template"))
        .chain(jobs.iter().map(|i| (i, "template.template")))
    {
        let Some(name) = instance.key.clone() else {
            continue;
        };
        let at = instance.address.clone();
        problems.check(
            string_of(&instance.stub, "name").as_deref() == Some(name.as_str()),
            || format!("{at}: name is not {name:?}"),
        );
        let Some(template) = problems.result(&at, instance.node.block(template_path)) else {
            continue;
        };
        if let Some(account) = problems.result(&at, template.string("service_account")) {
            accounts.insert(name.clone(), account.to_owned());
        }
        if let Some(container) = problems.result(&at, template.block("containers")) {
            if let Some(image) = problems.result(&at, container.string("image")) {
                problems.check(
                    image.starts_with(&registry_prefix)
                        && image.ends_with(&format!("/{name}:{IMAGE_TAG}")),
                    || {
                        format!(
                            "{at}: image {image:?} is not {registry_prefix}…/{name}:{IMAGE_TAG}"
                        )
                    },
                );
            }
            let secrets = topology
                .functions
                .get(&name)
                .map(|spec| spec.secrets.clone())
                .unwrap_or_default();
            check_environment(problems, &at, container, &secrets);
            let mounts = container.blocks("volume_mounts").unwrap_or_default();
            problems.check(
                mounts
                    .iter()
                    .any(|m| m.string("mount_path").ok() == Some("/cloudsql")),
                || format!("{at}: Cloud SQL is not mounted at /cloudsql"),
            );
        }
        let volumes = template.blocks("volumes").unwrap_or_default();
        problems.check(
            volumes
                .iter()
                .any(|v| v.blocks("cloud_sql_instance").is_ok_and(|b| !b.is_empty())),
            || format!("{at}: no cloud_sql_instance volume"),
        );
        if let Some(spec) = topology.functions.get(&name)
            && spec.kind != "job"
        {
            if let Some(min) = problems.result(
                &at,
                template
                    .block("scaling")
                    .and_then(|s| s.number("min_instance_count")),
            ) {
                problems.check(min == 0, || {
                    format!("{at}: min instances {min}, expected 0")
                });
            }
            if spec.kind == "http" {
                let ingress = instance.node.string("ingress").unwrap_or_default();
                problems.check(ingress == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER", || {
                    format!("{at}: an http function must only be reachable through the load balancer, ingress is {ingress:?}")
                });
            }
        }
    }

    // One service account per function, each a google_service_account with a valid id.
    let service_accounts: &[Instance] = &evaluation.instances("google_service_account")?;
    let by_email: BTreeMap<String, &Instance> = service_accounts
        .iter()
        .filter_map(|i| string_of(&i.stub, "email").map(|email| (email, i)))
        .collect();
    let mut owners: BTreeMap<&String, &String> = BTreeMap::new();
    for (function, email) in &accounts {
        if let Some(other) = owners.insert(email, function) {
            problems.0.push(format!(
                "{function} and {other} share the service account {email}"
            ));
        }
        match by_email.get(email) {
            None => problems.0.push(format!(
                "{function} runs as {email}, which is no google_service_account"
            )),
            Some(account) => {
                let id = string_of(&account.stub, "account_id").unwrap_or_default();
                let valid = (6..=30).contains(&id.len())
                    && id.starts_with(|c: char| c.is_ascii_lowercase())
                    && id.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && id
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                problems.check(valid, || {
                    format!(
                        "{}: account_id {id:?} is not a valid service account id",
                        account.address
                    )
                });
            }
        }
    }
    Ok(accounts)
}

/// Secrets a function may declare in its spec beyond the two every function gets.
const DECLARABLE_SECRETS: [&str; 2] = ["AUTH_SIGNING_KEY", "SMTP_URL"];

fn check_environment(problems: &mut Problems, at: &str, container: &Node, declared: &[String]) {
    let env = container.blocks("env").unwrap_or_default();
    let find = |name: &str| env.iter().find(|e| e.string("name").ok() == Some(name));
    let from_secret = |name: &str| {
        find(name).is_some_and(|e| {
            e.block("value_source.secret_key_ref")
                .is_ok_and(|r| r.string("secret").is_ok())
        })
    };
    for secret in ["DATABASE_URL", "AUTH_JWKS"] {
        problems.check(from_secret(secret), || {
            format!("{at}: {secret} does not come from Secret Manager")
        });
    }
    // Exactly the declared secrets are mounted: the private signing key and the SMTP
    // credentials reach only the functions whose spec asks for them.
    for secret in DECLARABLE_SECRETS {
        let wanted = declared.iter().any(|d| d == secret);
        let mounted = find(secret).is_some();
        problems.check(wanted == mounted, || {
            format!("{at}: {secret} mounted = {mounted}, declared = {wanted}")
        });
        if wanted {
            problems.check(from_secret(secret), || {
                format!("{at}: {secret} does not come from Secret Manager")
            });
        }
    }
    let project = find("GOOGLE_CLOUD_PROJECT").and_then(|e| e.string("value").ok());
    problems.check(project == Some(PROJECT), || {
        format!("{at}: GOOGLE_CLOUD_PROJECT is {project:?}")
    });
}

fn check_scheduler(
    problems: &mut Problems,
    evaluation: &mut Evaluation,
    topology: &Topology,
) -> Result<()> {
    let schedulers: &[Instance] = &evaluation.instances("google_cloud_scheduler_job")?;
    let invokers: &[Instance] = &evaluation.instances("google_cloud_run_v2_job_iam_member")?;
    let scheduled = topology.names(|spec| spec.kind == "job" && spec.schedule.is_some());
    let keys = key_set(problems, "google_cloud_scheduler_job", schedulers);
    compare_sets(
        problems,
        "Cloud Scheduler jobs (scheduled jobs)",
        &keys,
        &scheduled,
    );

    let grants: BTreeSet<(String, String, String)> = invokers
        .iter()
        .filter_map(|i| {
            Some((
                string_of(&i.stub, "name")?,
                string_of(&i.stub, "role")?,
                string_of(&i.stub, "member")?,
            ))
        })
        .collect();
    for scheduler in schedulers {
        let Some(name) = &scheduler.key else { continue };
        let Some(spec) = topology.functions.get(name) else {
            continue;
        };
        let at = &scheduler.address;
        let node = &scheduler.node;
        problems.check(
            node.string("schedule").ok() == spec.schedule.as_deref(),
            || format!("{at}: schedule is not {:?}", spec.schedule),
        );
        problems.check(node.string("time_zone").ok() == Some("Etc/UTC"), || {
            format!("{at}: time_zone is not Etc/UTC")
        });
        let Some(target) = problems.result(at, node.block("http_target")) else {
            continue;
        };
        let uri = format!(
            "https://run.googleapis.com/v2/projects/{PROJECT}/locations/{REGION}/jobs/{name}:run"
        );
        problems.check(target.string("uri").ok() == Some(uri.as_str()), || {
            format!(
                "{at}: uri is {:?}, expected {uri:?}",
                target.string("uri").ok()
            )
        });
        problems.check(target.string("http_method").ok() == Some("POST"), || {
            format!("{at}: http_method is not POST")
        });
        let Some(email) = problems.result(
            at,
            target
                .block("oauth_token")
                .and_then(|t| t.string("service_account_email")),
        ) else {
            continue;
        };
        let member = format!("serviceAccount:{email}");
        let may_run = [
            "roles/run.invoker",
            "roles/run.developer",
            "roles/run.jobsExecutor",
        ]
        .iter()
        .any(|role| grants.contains(&(name.clone(), (*role).to_owned(), member.clone())));
        problems.check(may_run, || {
            format!("{at}: {email} may not run the job {name}")
        });
    }
    Ok(())
}

fn check_pubsub(
    problems: &mut Problems,
    evaluation: &mut Evaluation,
    topology: &Topology,
    accounts: &BTreeMap<String, String>,
) -> Result<()> {
    let dead_letter = topology.dead_letter_topic.clone();
    let topics: &[Instance] = &evaluation.instances("google_pubsub_topic")?;
    let subscriptions: &[Instance] = &evaluation.instances("google_pubsub_subscription")?;
    let services: &[Instance] = &evaluation.instances("google_cloud_run_v2_service")?;
    let service_iam: &[Instance] =
        &evaluation.instances("google_cloud_run_v2_service_iam_member")?;
    let topic_iam: &[Instance] = &evaluation.instances("google_pubsub_topic_iam_member")?;
    let subscription_iam: &[Instance] =
        &evaluation.instances("google_pubsub_subscription_iam_member")?;
    let max_attempts = evaluation.var("max_delivery_attempts").ok();

    // Topics: exactly the event types plus the dead-letter topic. Topic references may be ids or
    // names; map both to the name.
    let mut topic_name: BTreeMap<String, String> = BTreeMap::new();
    for topic in topics {
        if let Some(name) = string_of(&topic.stub, "name") {
            topic_name.insert(name.clone(), name.clone());
            if let Some(id) = string_of(&topic.stub, "id") {
                topic_name.insert(id, name);
            }
        }
    }
    let topic_names: BTreeSet<String> = topics
        .iter()
        .filter_map(|t| string_of(&t.stub, "name"))
        .collect();
    let mut expected_topics = set(topology.topics.iter().map(String::as_str));
    expected_topics.insert(dead_letter.clone());
    compare_sets(problems, "Pub/Sub topics", &topic_names, &expected_topics);

    let subscription_keys = key_set(problems, "google_pubsub_subscription", subscriptions);
    compare_sets(
        problems,
        "push subscriptions (event functions)",
        &subscription_keys,
        &topology.of_kind("event"),
    );
    let service_uri: BTreeMap<String, String> = services
        .iter()
        .filter_map(|s| Some((s.key.clone()?, string_of(&s.stub, "uri")?)))
        .collect();
    let invokers: BTreeSet<(String, String, String)> = service_iam
        .iter()
        .filter_map(|i| {
            Some((
                string_of(&i.stub, "name")?,
                string_of(&i.stub, "role")?,
                string_of(&i.stub, "member")?,
            ))
        })
        .collect();
    let agent =
        format!("serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com");
    let subscription_grants: BTreeSet<(String, String, String)> = subscription_iam
        .iter()
        .filter_map(|i| {
            Some((
                string_of(&i.stub, "subscription")?,
                string_of(&i.stub, "role")?,
                string_of(&i.stub, "member")?,
            ))
        })
        .collect();

    for subscription in subscriptions {
        let Some(name) = &subscription.key else {
            continue;
        };
        let Some(spec) = topology.functions.get(name) else {
            continue;
        };
        let at = &subscription.address;
        let node = &subscription.node;
        let topic = node.string("topic").ok().and_then(|t| topic_name.get(t));
        problems.check(topic == spec.topic.as_ref(), || {
            format!("{at}: subscribes to {topic:?}, expected {:?}", spec.topic)
        });
        let Some(push) = problems.result(at, node.block("push_config")) else {
            continue;
        };
        let expected_endpoint = service_uri
            .get(name)
            .map(|uri| format!("{uri}{}", spec.push_path.clone().unwrap_or_default()));
        let endpoint = push
            .string("push_endpoint")
            .map_or_else(|e| format!("{e:#}"), str::to_owned);
        problems.check(
            expected_endpoint.as_ref() == Some(&endpoint),
            || format!("{at}: push endpoint {endpoint:?}, expected its service's URI + push_path: {expected_endpoint:?}"),
        );
        let push_account = push
            .block("oidc_token")
            .and_then(|t| t.string("service_account_email").map(str::to_owned));
        let Some(push_account) = problems.result(at, push_account) else {
            continue;
        };
        problems.check(
            invokers.contains(&(
                name.clone(),
                "roles/run.invoker".to_owned(),
                format!("serviceAccount:{push_account}"),
            )),
            || format!("{at}: the push identity {push_account} may not invoke {name}"),
        );
        let retry = node.block("retry_policy");
        problems.check(
            retry.as_ref().is_ok_and(|r| {
                r.string("minimum_backoff").ok() == Some("10s")
                    && r.string("maximum_backoff").ok() == Some("600s")
            }),
            || format!("{at}: retry_policy is not 10s..600s"),
        );
        problems.check(node.number("ack_deadline_seconds").is_ok(), || {
            format!("{at}: no ack_deadline_seconds")
        });

        let policies = match node.blocks("dead_letter_policy") {
            Ok(policies) => policies,
            Err(error) => {
                problems.0.push(format!("{at}: {error:#}"));
                continue;
            }
        };
        if spec.topic.as_deref() == Some(dead_letter.as_str()) {
            problems.check(policies.is_empty(), || {
                format!("{at}: the dead-letter consumer must not have a dead-letter policy")
            });
            continue;
        }
        let Some(policy) = policies.first().filter(|_| policies.len() == 1) else {
            problems
                .0
                .push(format!("{at}: no dead-letter policy (expected one)"));
            continue;
        };
        let target = policy
            .string("dead_letter_topic")
            .ok()
            .and_then(|t| topic_name.get(t));
        problems.check(target == Some(&dead_letter), || {
            format!("{at}: dead-letter policy targets {target:?}, not {dead_letter:?}")
        });
        let attempts = policy.number("max_delivery_attempts").ok();
        problems.check(
            attempts == Some(5) && max_attempts.as_ref().and_then(Value::as_i64) == Some(5),
            || {
                format!(
                    "{at}: dead-letter policy max_delivery_attempts is {attempts:?}, expected 5"
                )
            },
        );
        let subscription_refs = [
            string_of(&subscription.stub, "name"),
            string_of(&subscription.stub, "id"),
        ];
        let agent_subscribes = subscription_refs.iter().flatten().any(|reference| {
            subscription_grants.contains(&(
                reference.clone(),
                "roles/pubsub.subscriber".to_owned(),
                agent.clone(),
            ))
        });
        problems.check(agent_subscribes, || {
            format!(
                "{at}: the Pub/Sub service agent cannot subscribe to it (dead-lettering acks there)"
            )
        });
    }

    // Invokers: http functions are public (they authenticate requests themselves), event
    // functions are not.
    for name in topology.of_kind("http") {
        problems.check(
            invokers.contains(&(
                name.clone(),
                "roles/run.invoker".to_owned(),
                "allUsers".to_owned(),
            )),
            || format!("http function {name} is not invokable by allUsers"),
        );
    }
    let events = topology.of_kind("event");
    for (service, _, member) in &invokers {
        problems.check(
            !(events.contains(service) && member.starts_with("all")),
            || format!("event function {service} is invokable by {member}"),
        );
    }

    // Topic IAM: the service agent publishes to the dead-letter topic; each function publishes
    // to exactly the topics it declares.
    let function_of_member: BTreeMap<String, &String> = accounts
        .iter()
        .map(|(function, email)| (format!("serviceAccount:{email}"), function))
        .collect();
    let mut publishers = BTreeSet::new();
    let mut agent_publishes_dead_letters = false;
    for grant in topic_iam {
        let topic = string_of(&grant.stub, "topic").and_then(|t| topic_name.get(&t).cloned());
        let role = string_of(&grant.stub, "role").unwrap_or_default();
        let member = string_of(&grant.stub, "member").unwrap_or_default();
        let Some(topic) = topic else {
            problems
                .0
                .push(format!("{}: topic does not name a topic", grant.address));
            continue;
        };
        if role != "roles/pubsub.publisher" {
            continue;
        }
        if member == agent && topic == dead_letter {
            agent_publishes_dead_letters = true;
        }
        if let Some(function) = function_of_member.get(&member) {
            publishers.insert(format!("{function} -> {topic}"));
        }
    }
    problems.check(agent_publishes_dead_letters, || {
        "the Pub/Sub service agent may not publish to the dead-letter topic".to_owned()
    });
    let expected_publishers: BTreeSet<String> = topology
        .functions
        .iter()
        .flat_map(|(name, spec)| spec.publishes.iter().map(move |t| format!("{name} -> {t}")))
        .collect();
    compare_sets(
        problems,
        "publisher grants",
        &publishers,
        &expected_publishers,
    );
    Ok(())
}

/// One route rule of the URL map, resolved to its function.
#[derive(Debug)]
struct Rule {
    priority: i64,
    function: String,
    /// Alternatives (any may match): path template / prefix / full path, and header matches.
    matches: Vec<(PathMatch, Vec<(String, String)>)>,
}

#[derive(Debug)]
enum PathMatch {
    Template(String),
    Prefix(String),
    Full(String),
}

fn check_url_map(
    problems: &mut Problems,
    evaluation: &mut Evaluation,
    topology: &Topology,
) -> Result<()> {
    let url_maps: &[Instance] = &evaluation.instances("google_compute_url_map")?;
    let backends: &[Instance] = &evaluation.instances("google_compute_backend_service")?;
    let negs: &[Instance] =
        &evaluation.instances("google_compute_region_network_endpoint_group")?;
    let services: &[Instance] = &evaluation.instances("google_cloud_run_v2_service")?;

    // backend service id -> NEG id -> Cloud Run service name -> function.
    let function_of_service: BTreeMap<String, String> = services
        .iter()
        .filter_map(|s| Some((string_of(&s.stub, "name")?, s.key.clone()?)))
        .collect();
    let function_of_neg: BTreeMap<String, String> = negs
        .iter()
        .filter_map(|n| {
            let service = n.node.block("cloud_run").ok()?.string("service").ok()?;
            Some((
                string_of(&n.stub, "id")?,
                function_of_service.get(service)?.clone(),
            ))
        })
        .collect();
    let function_of_backend: BTreeMap<String, String> = backends
        .iter()
        .filter_map(|b| {
            let groups = b.node.blocks("backend").ok()?;
            let functions: BTreeSet<&String> = groups
                .iter()
                .filter_map(|g| function_of_neg.get(g.string("group").ok()?))
                .collect();
            let function = (functions.len() == 1).then(|| functions.into_iter().next())??;
            Some((string_of(&b.stub, "id")?, function.clone()))
        })
        .collect();
    let reachable: BTreeSet<String> = function_of_backend.values().cloned().collect();
    compare_sets(
        problems,
        "functions behind the load balancer (backend service -> serverless NEG -> Cloud Run service)",
        &reachable,
        &topology.of_kind("http"),
    );
    let resolve = |at: &str, service: Result<&str>| -> Result<String> {
        let service = service?;
        function_of_backend
            .get(service)
            .cloned()
            .with_context(|| format!("{at}: {service} is not a function's backend service"))
    };

    let mut matchers = Vec::new();
    for url_map in url_maps {
        for matcher in url_map.node.blocks("path_matcher")? {
            matchers.push((url_map.address.clone(), matcher));
        }
    }
    let [(at, matcher)] = matchers.as_slice() else {
        bail!(
            "expected exactly one URL-map path matcher, found {}",
            matchers.len()
        );
    };
    let default = resolve(at, matcher.string("default_service"))?;

    let mut rules = Vec::new();
    let mut priorities = BTreeSet::new();
    for rule in matcher.blocks("route_rules")? {
        let priority = rule.number("priority")?;
        problems.check(
            (0..=2_147_483_647).contains(&priority) && priorities.insert(priority),
            || format!("{at}: route rule priority {priority} is out of range or not unique"),
        );
        let function = resolve(at, rule.string("service"))?;
        let mut matches = Vec::new();
        for match_rule in rule.blocks("match_rules")? {
            let path = if let Ok(template) = match_rule.string("path_template_match") {
                PathMatch::Template(template.to_owned())
            } else if let Ok(prefix) = match_rule.string("prefix_match") {
                PathMatch::Prefix(prefix.to_owned())
            } else if let Ok(full) = match_rule.string("full_path_match") {
                PathMatch::Full(full.to_owned())
            } else {
                bail!("{at}: a match rule without a supported path match");
            };
            let mut headers = Vec::new();
            for header in match_rule.blocks("header_matches")? {
                headers.push((
                    header.string("header_name")?.to_owned(),
                    header
                        .string("exact_match")
                        .context("only exact header matches are simulated")?
                        .to_owned(),
                ));
            }
            matches.push((path, headers));
        }
        rules.push(Rule {
            priority,
            function,
            matches,
        });
    }
    rules.sort_by_key(|rule| rule.priority);

    let route = |method: &str, path: &str| -> String {
        rules
            .iter()
            .find(|rule| {
                rule.matches.iter().any(|(path_match, headers)| {
                    let path_ok = match path_match {
                        PathMatch::Template(template) => template_matches(template, path),
                        PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
                        PathMatch::Full(full) => path == full,
                    };
                    path_ok
                        && headers.iter().all(|(name, value)| {
                            name == ":method" && value.eq_ignore_ascii_case(method)
                        })
                })
            })
            .map_or_else(|| default.clone(), |rule| rule.function.clone())
    };

    // Every route is an explicit rule, and a request for it reaches its function.
    let mut seen: BTreeMap<(String, String), &String> = BTreeMap::new();
    for (name, spec) in &topology.functions {
        for r in &spec.routes {
            let method = r.method.to_uppercase();
            if let Some(other) = seen.insert((method.clone(), shape(&r.path_template)), name) {
                problems.0.push(format!(
                    "{method} {} is served by both {other} and {name}",
                    r.path
                ));
            }
            let explicit = rules.iter().any(|rule| {
                &rule.function == name
                    && rule.matches.iter().any(|(path, headers)| {
                        matches!(path, PathMatch::Template(t) if *t == r.path_template)
                            && headers.iter().any(|(h, v)| h == ":method" && *v == method)
                    })
            });
            problems.check(explicit, || {
                format!(
                    "URL map: no route rule for {method} {} -> {name}",
                    r.path_template
                )
            });
            let request = instantiate(&r.path_template);
            let reached = route(&method, &request);
            problems.check(&reached == name, || {
                format!(
                    "URL map: {method} {request} (route {} of {name}) routes to {reached}",
                    r.path
                )
            });
            if method == "GET" {
                let reached = route("HEAD", &request);
                problems.check(&reached == name, || {
                    format!("URL map: HEAD {request} routes to {reached}, not {name}")
                });
            }
            // CORS preflight reaches a function that serves this path.
            let reached = route("OPTIONS", &request);
            let serves_path = topology.functions.get(&reached).is_some_and(|s| {
                s.routes
                    .iter()
                    .any(|o| template_matches(&o.path_template, &request))
            });
            problems.check(serves_path, || {
                format!("URL map: OPTIONS {request} routes to {reached}, which does not serve it")
            });
        }
    }
    Ok(())
}

#[derive(PartialEq)]
enum Segment {
    Literal,
    One,
    Many,
}

fn segment(segment: &str) -> Segment {
    if segment.contains("**") {
        Segment::Many
    } else if segment.contains('*') || (segment.starts_with('{') && segment.ends_with('}')) {
        Segment::One
    } else {
        Segment::Literal
    }
}

/// URL-map path template matching: `*` / `{x}` / `{x=*}` one segment, `**` / `{x=**}` the rest.
fn template_matches(template: &str, path: &str) -> bool {
    fn segments_match(template: &[&str], path: &[&str]) -> bool {
        match template.split_first() {
            None => path.is_empty(),
            Some((first, rest)) => match segment(first) {
                Segment::Many => (0..=path.len()).any(|n| segments_match(rest, &path[n..])),
                Segment::One => {
                    path.first().is_some_and(|p| !p.is_empty()) && segments_match(rest, &path[1..])
                }
                Segment::Literal => path.first() == Some(first) && segments_match(rest, &path[1..]),
            },
        }
    }
    let template: Vec<&str> = template.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    segments_match(&template, &path)
}

/// A concrete request path for a template.
fn instantiate(template: &str) -> String {
    template
        .split('/')
        .map(|s| match segment(s) {
            Segment::Literal => s,
            Segment::One => "sample-7",
            Segment::Many => "deep/nested/file",
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The template with variable names erased: two routes of one shape are one path.
fn shape(template: &str) -> String {
    template
        .split('/')
        .map(|s| match segment(s) {
            Segment::Literal => s,
            Segment::One => "*",
            Segment::Many => "**",
        })
        .collect::<Vec<_>>()
        .join("/")
}

// ------------------------------------------------------------------------------------------------
// A larger topology than today's: overlapping paths, one path's methods on different functions,
// several consumers of one topic, a long function name, scheduled and unscheduled jobs.
// ------------------------------------------------------------------------------------------------

const FIXTURE: &str = r#"{
  "functions": {
    "create-order": {"kind": "http", "routes": [{"method": "POST", "path": "/v1/orders", "path_template": "/v1/orders"}], "topic": null, "push_path": null, "schedule": null, "job_path": null, "publishes": ["sales.order.created"]},
    "list-orders": {"kind": "http", "routes": [{"method": "GET", "path": "/v1/orders", "path_template": "/v1/orders"}], "topic": null, "push_path": null, "schedule": null, "job_path": null, "publishes": []},
    "get-order": {"kind": "http", "routes": [{"method": "GET", "path": "/v1/orders/{id}", "path_template": "/v1/orders/{id=*}"}], "topic": null, "push_path": null, "schedule": null, "job_path": null, "publishes": []},
    "update-order": {"kind": "http", "routes": [{"method": "PATCH", "path": "/v1/orders/{order_id}", "path_template": "/v1/orders/{order_id=*}"}], "topic": null, "push_path": null, "schedule": null, "job_path": null, "publishes": []},
    "search-orders": {"kind": "http", "routes": [{"method": "GET", "path": "/v1/orders/search", "path_template": "/v1/orders/search"}], "topic": null, "push_path": null, "schedule": null, "job_path": null, "publishes": []},
    "pay-order": {"kind": "http", "routes": [{"method": "POST", "path": "/v1/orders/{id}/pay", "path_template": "/v1/orders/{id=*}/pay"}], "topic": null, "push_path": null, "schedule": null, "job_path": null, "publishes": ["sales.order.paid"]},
    "get-file": {"kind": "http", "routes": [{"method": "GET", "path": "/v1/files/{*path}", "path_template": "/v1/files/{path=**}"}], "topic": null, "push_path": null, "schedule": null, "job_path": null, "publishes": []},
    "get-file-meta": {"kind": "http", "routes": [{"method": "GET", "path": "/v1/files/{id}/meta", "path_template": "/v1/files/{id=*}/meta"}], "topic": null, "push_path": null, "schedule": null, "job_path": null, "publishes": []},
    "list-dead-letters": {"kind": "http", "routes": [{"method": "GET", "path": "/v1/admin/dead-letters", "path_template": "/v1/admin/dead-letters"}], "topic": null, "push_path": null, "schedule": null, "job_path": null, "publishes": []},
    "replay-dead-letters": {"kind": "http", "routes": [{"method": "POST", "path": "/v1/admin/dead-letters/replay", "path_template": "/v1/admin/dead-letters/replay"}], "topic": null, "push_path": null, "schedule": null, "job_path": null, "publishes": ["analytics.sales.rolled-up", "sales.order.created", "sales.order.paid", "sales.payment.captured"]},
    "on-order-paid-notify": {"kind": "event", "routes": [], "topic": "sales.order.paid", "push_path": "/events/on-order-paid-notify", "schedule": null, "job_path": null, "publishes": []},
    "on-order-paid-accrue-loyalty-points-for-customer": {"kind": "event", "routes": [], "topic": "sales.order.paid", "push_path": "/events/on-order-paid-accrue-loyalty-points-for-customer", "schedule": null, "job_path": null, "publishes": []},
    "on-payment-captured": {"kind": "event", "routes": [], "topic": "sales.payment.captured", "push_path": "/events/on-payment-captured", "schedule": null, "job_path": null, "publishes": ["sales.order.paid"]},
    "on-dead-letter": {"kind": "event", "routes": [], "topic": "olympus.dead-letter", "push_path": "/events/on-dead-letter", "schedule": null, "job_path": null, "publishes": []},
    "migrate": {"kind": "job", "routes": [], "topic": null, "push_path": null, "schedule": null, "job_path": "/jobs/migrate", "publishes": []},
    "relay-outbox": {"kind": "job", "routes": [], "topic": null, "push_path": null, "schedule": "* * * * *", "job_path": "/jobs/relay-outbox", "publishes": ["analytics.sales.rolled-up", "sales.order.created", "sales.order.paid", "sales.payment.captured"]},
    "rollup-sales": {"kind": "job", "routes": [], "topic": null, "push_path": null, "schedule": "0 3 * * *", "job_path": "/jobs/rollup-sales", "publishes": ["analytics.sales.rolled-up"]}
  },
  "topics": ["analytics.sales.rolled-up", "sales.order.created", "sales.order.paid", "sales.payment.captured"],
  "dead_letter_topic": "olympus.dead-letter"
}"#;
