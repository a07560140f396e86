//! Roles, API keys and the audit log through the whole platform: role CRUD with built-in
//! protection, no privilege escalation and `role_in_use`; API keys created once, listed without
//! their secret, accepted as `Authorization: Bearer olk_...` and `X-Api-Key` with their scopes
//! only, refused (401 `invalid_api_key`) when revoked, expired or tampered with, and bound to
//! their tenant; the audit list with its filters, pagination and tenant isolation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{TestPlatform, problem, sign_up};
use serde_json::{Value, json};
use uuid::Uuid;

async fn ok(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

fn id(value: &Value) -> Uuid {
    value["id"].as_str().unwrap().parse().unwrap()
}

impl TestPlatform {
    async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn post_as(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn patch_as(
        &self,
        token: &str,
        path: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body);
        if let Some(if_match) = if_match {
            request = request.header("if-match", if_match);
        }
        request.send().await.unwrap()
    }

    async fn delete_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// Creates an API key as `token`; returns the 201 body (with `key`).
async fn create_key(platform: &TestPlatform, token: &str, body: &Value) -> Value {
    ok(platform.post_as(token, "/v1/api-keys", body).await, 201).await
}

fn roles_named(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_managed_without_escalation_and_builtins_stay_as_they_are() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "role-a").await;
    let b = sign_up(&platform, "role-b").await;

    // The four built-in roles, newest first.
    let page = ok(platform.get_as(&a.token, "/v1/roles").await, 200).await;
    let mut names = roles_named(&page);
    names.sort();
    assert_eq!(names, ["admin", "manager", "owner", "staff"]);
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["builtin"] == true)
    );
    assert_eq!(page["next_cursor"], Value::Null);
    let builtin_admin = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "admin")
        .map(id)
        .unwrap();
    let paged = ok(platform.get_as(&a.token, "/v1/roles?limit=3").await, 200).await;
    assert_eq!(paged["items"].as_array().unwrap().len(), 3);
    let cursor = paged["next_cursor"].as_str().unwrap();
    let rest = ok(
        platform
            .get_as(&a.token, &format!("/v1/roles?limit=3&cursor={cursor}"))
            .await,
        200,
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);

    // Create, with validation and a unique name.
    let response = platform
        .post_as(
            &a.token,
            "/v1/roles",
            &json!({"name": "barista", "description": "Coffee.", "permissions": ["orders:read", "kitchen:*", "orders:read"]}),
        )
        .await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let barista = ok(response, 201).await;
    assert_eq!(barista["name"], "barista");
    assert_eq!(barista["permissions"], json!(["kitchen:*", "orders:read"]));
    assert_eq!(barista["builtin"], false);
    assert_eq!(barista["version"], 1);
    let barista_id = id(&barista);
    let path = format!("/v1/roles/{barista_id}");
    for (body, status, code) in [
        (
            json!({"name": "barista", "permissions": []}),
            409,
            "role_name_taken",
        ),
        (
            json!({"name": "owner", "permissions": []}),
            409,
            "role_name_taken",
        ),
        (
            json!({"name": "api_key", "permissions": []}),
            409,
            "role_name_taken",
        ),
        (
            json!({"name": "Bad Name", "permissions": []}),
            422,
            "invalid_name",
        ),
        (
            json!({"name": "x", "permissions": ["orders:fly"]}),
            422,
            "invalid_permission",
        ),
    ] {
        problem(
            platform.post_as(&a.token, "/v1/roles", &body).await,
            status,
            code,
        )
        .await;
    }

    // No escalation: a role writer holding orders:read only cannot hand out orders:write.
    let limited = platform.token(a.tenant, &["roles:read", "roles:write", "orders:read"]);
    let denied = problem(
        platform
            .post_as(
                &limited,
                "/v1/roles",
                &json!({"name": "sneaky", "permissions": ["orders:write"]}),
            )
            .await,
        403,
        "permission_denied",
    )
    .await;
    assert_eq!(denied["permission"], "orders:write");
    problem(
        platform
            .post_as(
                &limited,
                "/v1/roles",
                &json!({"name": "sneaky", "permissions": ["*"]}),
            )
            .await,
        403,
        "permission_denied",
    )
    .await;
    ok(
        platform
            .post_as(
                &limited,
                "/v1/roles",
                &json!({"name": "readers", "permissions": ["orders:read"]}),
            )
            .await,
        201,
    )
    .await;
    let reader = platform.token(a.tenant, &["roles:read"]);
    problem(
        platform
            .post_as(
                &reader,
                "/v1/roles",
                &json!({"name": "nope", "permissions": []}),
            )
            .await,
        403,
        "permission_denied",
    )
    .await;
    problem(
        platform
            .get_as(&platform.token(a.tenant, &["tenant:read"]), "/v1/roles")
            .await,
        403,
        "permission_denied",
    )
    .await;

    // Update: If-Match, versions, built-ins read-only, escalation refused on gained permissions.
    let change = json!({"description": "Coffee and cake.", "permissions": ["orders:read"]});
    problem(
        platform.patch_as(&a.token, &path, None, &change).await,
        428,
        "precondition_required",
    )
    .await;
    let stale = problem(
        platform
            .patch_as(&a.token, &path, Some("\"7\""), &change)
            .await,
        412,
        "version_mismatch",
    )
    .await;
    assert_eq!(stale["current_version"], 1);
    let response = platform
        .patch_as(&a.token, &path, Some("\"1\""), &change)
        .await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let updated = ok(response, 200).await;
    assert_eq!(updated["description"], "Coffee and cake.");
    assert_eq!(updated["permissions"], json!(["orders:read"]));
    assert_eq!(updated["version"], 2);
    problem(
        platform
            .patch_as(
                &limited,
                &path,
                Some("2"),
                &json!({"permissions": ["orders:read", "refunds:write"]}),
            )
            .await,
        403,
        "permission_denied",
    )
    .await;
    // Removing what one does not hold is fine; renaming onto a taken name is not.
    ok(
        platform
            .patch_as(&limited, &path, Some("2"), &json!({"description": "Less."}))
            .await,
        200,
    )
    .await;
    problem(
        platform
            .patch_as(&a.token, &path, Some("3"), &json!({"name": "staff"}))
            .await,
        409,
        "role_name_taken",
    )
    .await;
    let builtin_path = format!("/v1/roles/{builtin_admin}");
    problem(
        platform
            .patch_as(
                &a.token,
                &builtin_path,
                Some("1"),
                &json!({"description": "mine"}),
            )
            .await,
        409,
        "builtin_role",
    )
    .await;
    problem(
        platform.delete_as(&a.token, &builtin_path).await,
        409,
        "builtin_role",
    )
    .await;

    // Another tenant sees none of it: 404, nothing changed.
    problem(
        platform
            .patch_as(
                &b.token,
                &path,
                Some("3"),
                &json!({"description": "B was here"}),
            )
            .await,
        404,
        "not_found",
    )
    .await;
    problem(platform.delete_as(&b.token, &path).await, 404, "not_found").await;
    let b_roles = roles_named(&ok(platform.get_as(&b.token, "/v1/roles").await, 200).await);
    assert!(!b_roles.contains(&"barista".to_owned()), "{b_roles:?}");
    problem(
        platform.delete_as(&a.token, "/v1/roles/not-a-uuid").await,
        404,
        "not_found",
    )
    .await;

    // In use: a grant blocks the delete until it is gone.
    let admin = platform.admin().await;
    admin
        .execute(
            "INSERT INTO auth.role_grants (tenant_id, user_id, role_id) VALUES ($1, $2, $3)",
            &[&a.tenant, &a.user, &barista_id],
        )
        .await
        .unwrap();
    problem(
        platform.delete_as(&a.token, &path).await,
        409,
        "role_in_use",
    )
    .await;
    admin
        .execute(
            "DELETE FROM auth.role_grants WHERE role_id = $1",
            &[&barista_id],
        )
        .await
        .unwrap();
    ok(platform.delete_as(&a.token, &path).await, 204).await;
    problem(platform.delete_as(&a.token, &path).await, 404, "not_found").await;
    let names = roles_named(&ok(platform.get_as(&a.token, "/v1/roles").await, 200).await);
    assert!(!names.contains(&"barista".to_owned()), "{names:?}");
    let description: String = admin
        .query_one(
            "SELECT description FROM auth.roles WHERE id = $1",
            &[&builtin_admin],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(description, "Everything but the plan and billing.");

    // Every change is audited, with before/after.
    let rows = admin
        .query(
            "SELECT action, actor_type, actor_id, before, after FROM audit.events
             WHERE tenant_id = $1 AND target_id = $2 ORDER BY id",
            &[&a.tenant, &barista_id.to_string()],
        )
        .await
        .unwrap();
    let actions: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        actions,
        [
            "auth.role.created",
            "auth.role.updated",
            "auth.role.updated",
            "auth.role.deleted"
        ]
    );
    assert_eq!(rows[0].get::<_, String>(1), "user");
    assert_eq!(rows[0].get::<_, Option<Uuid>>(2), Some(a.user));
    let before: Value = rows[1].get(3);
    let after: Value = rows[1].get(4);
    assert_eq!(before["permissions"], json!(["kitchen:*", "orders:read"]));
    assert_eq!(after["permissions"], json!(["orders:read"]));
    assert_eq!(after["version"], 2);
    let deleted: Value = rows[3].get(3);
    assert_eq!(deleted["name"], "barista");
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_authenticate_with_their_scopes_until_revoked_or_expired() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "keys-a").await;
    let b = sign_up(&platform, "keys-b").await;
    let admin = platform.admin().await;

    let created = create_key(
        &platform,
        &a.token,
        &json!({"name": " Menu sync ", "scopes": ["tenant:read"]}),
    )
    .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let prefix = created["prefix"].as_str().unwrap().to_owned();
    let key_id = id(&created);
    assert!(key.starts_with(&format!("olk_{prefix}_")), "{key}");
    assert_eq!(prefix.len(), 12);
    assert_eq!(created["name"], "Menu sync");
    assert_eq!(created["scopes"], json!(["tenant:read"]));
    assert_eq!(created["location_ids"], Value::Null);
    assert_eq!(created["expires_at"], Value::Null);
    assert_eq!(created["revoked_at"], Value::Null);
    let secret = key[format!("olk_{prefix}_").len()..].to_owned();

    // Stored: the hash of the secret only, the directory entry, the creator.
    let row = admin
        .query_one(
            "SELECT k.secret_hash, k.created_by, d.tenant_id
             FROM auth.api_keys k JOIN auth.api_key_directory d USING (prefix) WHERE k.id = $1",
            &[&key_id],
        )
        .await
        .unwrap();
    let hash: Vec<u8> = row.get(0);
    assert_eq!(hash.len(), 32);
    assert!(
        !hash
            .windows(8)
            .any(|w| secret.as_bytes().windows(8).any(|s| s == w))
    );
    assert_eq!(row.get::<_, Option<Uuid>>(1), Some(a.user));
    assert_eq!(row.get::<_, Uuid>(2), a.tenant);

    // The key reads its tenant, as Bearer and as X-Api-Key, and its tenant only.
    let tenant = ok(platform.get_as(&key, "/v1/tenant").await, 200).await;
    assert_eq!(id(&tenant), a.tenant);
    let response = platform
        .http
        .get(platform.url("/v1/tenant"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(id(&ok(response, 200).await), a.tenant);
    // Ambiguous credentials are refused.
    let response = platform
        .http
        .get(platform.url("/v1/tenant"))
        .bearer_auth(&b.token)
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    problem(response, 401, "invalid_token").await;

    // Its scopes only. Stands in for "a key with catalog:read cannot write the catalog": the
    // catalog endpoints come later, and tenant:read vs PATCH /v1/tenant is the same check.
    let denied = problem(
        platform
            .patch_as(&key, "/v1/tenant", Some("1"), &json!({"name": "Hacked"}))
            .await,
        403,
        "permission_denied",
    )
    .await;
    assert_eq!(denied["permission"], "tenant:write");
    problem(
        platform.get_as(&key, "/v1/api-keys").await,
        403,
        "permission_denied",
    )
    .await;

    // Listed without the secret, with last use recorded.
    let list = ok(platform.get_as(&a.token, "/v1/api-keys").await, 200).await;
    let text = list.to_string();
    assert!(!text.contains(&secret), "{text}");
    assert!(!text.contains("secret_hash"), "{text}");
    let item = &list["items"][0];
    assert_eq!(id(item), key_id);
    assert_eq!(item["prefix"], prefix.as_str());
    assert!(item.get("key").is_none());
    assert!(item["last_used_at"].is_string(), "{item}");
    assert_eq!(list["next_cursor"], Value::Null);
    let b_list = ok(platform.get_as(&b.token, "/v1/api-keys").await, 200).await;
    assert_eq!(b_list["items"], json!([]));

    // Malformed, unknown and tampered keys all look alike.
    let last = secret.chars().last().unwrap();
    let tampered = format!(
        "{}{}",
        &key[..key.len() - 1],
        if last == 'A' { 'B' } else { 'A' }
    );
    let unknown = format!("olk_aaaaaaaaaaaa_{secret}");
    for bad in [
        tampered.as_str(),
        unknown.as_str(),
        "olk_short",
        &key[..key.len() - 1],
    ] {
        problem(
            platform.get_as(bad, "/v1/tenant").await,
            401,
            "invalid_api_key",
        )
        .await;
    }

    // Scopes are validated and bounded by the creator; locations must exist.
    let limited = platform.token(a.tenant, &["api_keys:write", "tenant:read"]);
    problem(
        platform
            .post_as(
                &limited,
                "/v1/api-keys",
                &json!({"name": "k", "scopes": ["tenant:write"]}),
            )
            .await,
        403,
        "permission_denied",
    )
    .await;
    problem(
        platform
            .post_as(
                &a.token,
                "/v1/api-keys",
                &json!({"name": "k", "scopes": ["tenant:fly"]}),
            )
            .await,
        422,
        "invalid_permission",
    )
    .await;
    problem(
        platform
            .post_as(
                &a.token,
                "/v1/api-keys",
                &json!({"name": "k", "scopes": ["tenant:read"], "location_ids": [Uuid::now_v7()]}),
            )
            .await,
        422,
        "unknown_location",
    )
    .await;
    problem(
        platform
            .post_as(&a.token, "/v1/api-keys", &json!({"name": "k", "scopes": ["tenant:read"], "expires_at": "2020-01-01T00:00:00Z"}))
            .await,
        422,
        "invalid_expires_at",
    )
    .await;
    // A token of no stored user (and a key made by a key) has no creator; both work.
    let by_token = create_key(
        &platform,
        &limited,
        &json!({"name": "by token", "scopes": ["tenant:read"]}),
    )
    .await;
    let creator: Option<Uuid> = admin
        .query_one(
            "SELECT created_by FROM auth.api_keys WHERE id = $1",
            &[&id(&by_token)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(creator, None);

    // A key with write scopes writes, through an idempotent route too, audited as the key.
    let writer = create_key(
        &platform,
        &a.token,
        &json!({"name": "writer", "scopes": ["roles:write", "orders:read", "api_keys:write", "api_keys:read"]}),
    )
    .await;
    let writer_key = writer["key"].as_str().unwrap().to_owned();
    let role_body = json!({"name": "by-key", "permissions": ["orders:read"]});
    let first = platform
        .http
        .post(platform.url("/v1/roles"))
        .header("x-api-key", &writer_key)
        .header("idempotency-key", "role-by-key-1")
        .json(&role_body)
        .send()
        .await
        .unwrap();
    let role = ok(first, 201).await;
    let replay = platform
        .http
        .post(platform.url("/v1/roles"))
        .bearer_auth(&writer_key)
        .header("idempotency-key", "role-by-key-1")
        .json(&role_body)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(id(&ok(replay, 201).await), id(&role));
    problem(
        platform
            .post_as(
                &writer_key,
                "/v1/roles",
                &json!({"name": "more", "permissions": ["orders:write"]}),
            )
            .await,
        403,
        "permission_denied",
    )
    .await;
    let audit = admin
        .query_one(
            "SELECT actor_type, actor_id FROM audit.events WHERE action = 'auth.role.created' AND target_id = $1",
            &[&id(&role).to_string()],
        )
        .await
        .unwrap();
    assert_eq!(audit.get::<_, String>(0), "api_key");
    assert_eq!(audit.get::<_, Option<Uuid>>(1), Some(id(&writer)));
    // A's key lists A's keys only, and cannot touch B's.
    let keys = ok(platform.get_as(&writer_key, "/v1/api-keys").await, 200).await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 3);
    let b_key = create_key(
        &platform,
        &b.token,
        &json!({"name": "b", "scopes": ["tenant:read"]}),
    )
    .await;
    problem(
        platform
            .delete_as(&writer_key, &format!("/v1/api-keys/{}", id(&b_key)))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        id(&ok(
            platform
                .get_as(b_key["key"].as_str().unwrap(), "/v1/tenant")
                .await,
            200
        )
        .await),
        b.tenant
    );

    // Expired keys stop working.
    let expiring = create_key(
        &platform,
        &a.token,
        &json!({"name": "temp", "scopes": ["tenant:read"], "expires_at": "2999-01-01T00:00:00Z"}),
    )
    .await;
    let expiring_key = expiring["key"].as_str().unwrap();
    ok(platform.get_as(expiring_key, "/v1/tenant").await, 200).await;
    admin
        .execute(
            "UPDATE auth.api_keys SET expires_at = now() - interval '1 second' WHERE id = $1",
            &[&id(&expiring)],
        )
        .await
        .unwrap();
    problem(
        platform.get_as(expiring_key, "/v1/tenant").await,
        401,
        "invalid_api_key",
    )
    .await;

    // Revoked keys stop working; revoking twice is fine, once audited.
    let path = format!("/v1/api-keys/{key_id}");
    problem(platform.delete_as(&b.token, &path).await, 404, "not_found").await;
    ok(platform.get_as(&key, "/v1/tenant").await, 200).await;
    ok(platform.delete_as(&a.token, &path).await, 204).await;
    problem(
        platform.get_as(&key, "/v1/tenant").await,
        401,
        "invalid_api_key",
    )
    .await;
    ok(platform.delete_as(&a.token, &path).await, 204).await;
    let list = ok(platform.get_as(&a.token, "/v1/api-keys").await, 200).await;
    let revoked = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| id(k) == key_id)
        .unwrap();
    assert!(revoked["revoked_at"].is_string());
    let counts: Vec<(String, i64)> = admin
        .query(
            "SELECT action, count(*) FROM audit.events WHERE target_id = $1 GROUP BY action ORDER BY action",
            &[&key_id.to_string()],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        counts,
        [
            ("auth.api_key.created".to_owned(), 1),
            ("auth.api_key.revoked".to_owned(), 1)
        ]
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_events_are_filtered_paginated_and_tenant_isolated() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "audit-a").await;
    let b = sign_up(&platform, "audit-b").await;
    let mut roles = Vec::new();
    for name in ["one", "two", "three"] {
        let role = ok(
            platform
                .post_as(
                    &a.token,
                    "/v1/roles",
                    &json!({"name": name, "permissions": ["orders:read"]}),
                )
                .await,
            201,
        )
        .await;
        roles.push(id(&role));
    }
    ok(
        platform
            .patch_as(
                &a.token,
                &format!("/v1/roles/{}", roles[0]),
                Some("1"),
                &json!({"description": "First."}),
            )
            .await,
        200,
    )
    .await;
    ok(
        platform
            .delete_as(&a.token, &format!("/v1/roles/{}", roles[2]))
            .await,
        204,
    )
    .await;
    let key = create_key(
        &platform,
        &a.token,
        &json!({"name": "k", "scopes": ["audit:read"]}),
    )
    .await;
    let key_id = id(&key);
    ok(
        platform
            .delete_as(&a.token, &format!("/v1/api-keys/{key_id}"))
            .await,
        204,
    )
    .await;

    let list = |token: String, query: String| {
        let platform = &platform;
        async move {
            ok(
                platform
                    .get_as(&token, &format!("/v1/audit-events{query}"))
                    .await,
                200,
            )
            .await
        }
    };
    let items = |page: &Value| page["items"].as_array().unwrap().clone();
    let actions = |page: &Value| {
        items(page)
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };

    // Exact action, newest first, with every field.
    let created = list(a.token.clone(), "?action=auth.role.created".into()).await;
    let created_targets: Vec<String> = items(&created)
        .iter()
        .map(|e| e["target_id"].as_str().unwrap().to_owned())
        .collect();
    let mut expected: Vec<String> = roles.iter().map(ToString::to_string).collect();
    expected.reverse();
    assert_eq!(created_targets, expected);
    let first = &items(&created)[0];
    for field in [
        "id",
        "occurred_at",
        "actor_type",
        "actor_id",
        "action",
        "target_type",
        "target_id",
        "ip",
        "user_agent",
        "request_id",
        "before",
        "after",
        "details",
    ] {
        assert!(first.get(field).is_some(), "{field} missing: {first}");
    }
    assert_eq!(first["actor_type"], "user");
    assert_eq!(first["actor_id"], a.user.to_string());
    assert_eq!(first["target_type"], "role");
    assert_eq!(first["after"]["name"], "three");
    assert!(first["request_id"].is_string());

    // Prefix, target and actor filters.
    assert_eq!(
        actions(&list(a.token.clone(), "?action=auth.role.*".into()).await),
        [
            "auth.role.deleted",
            "auth.role.updated",
            "auth.role.created",
            "auth.role.created",
            "auth.role.created"
        ]
    );
    assert_eq!(
        actions(&list(a.token.clone(), "?target_type=api_key".into()).await),
        ["auth.api_key.revoked", "auth.api_key.created"]
    );
    assert_eq!(
        actions(
            &list(
                a.token.clone(),
                format!("?target_type=role&target_id={}", roles[0])
            )
            .await
        ),
        ["auth.role.updated", "auth.role.created"]
    );
    let by_owner = list(
        a.token.clone(),
        format!("?actor_id={}&action=auth.*", a.user),
    )
    .await;
    assert!(items(&by_owner).len() >= 7, "{by_owner}");
    assert!(
        items(&by_owner)
            .iter()
            .all(|e| e["actor_id"] == a.user.to_string())
    );
    let nobody = list(a.token.clone(), format!("?actor_id={}", Uuid::now_v7())).await;
    assert_eq!(nobody["items"], json!([]));

    // Time window.
    let everything = list(a.token.clone(), "?limit=100".into()).await;
    let total = items(&everything).len();
    assert!(total >= 7, "{everything}");
    let window = list(
        a.token.clone(),
        "?from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00%2B01:00&limit=100".into(),
    )
    .await;
    assert_eq!(items(&window).len(), total);
    assert_eq!(
        list(a.token.clone(), "?from=2999-01-01T00:00:00Z".into()).await["items"],
        json!([])
    );
    assert_eq!(
        list(a.token.clone(), "?to=2000-01-01T00:00:00Z".into()).await["items"],
        json!([])
    );

    // Pagination: pages of two, newest first, nothing lost or repeated.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=2&cursor={c}"),
            None => "?limit=2".to_owned(),
        };
        let page = list(a.token.clone(), query).await;
        assert!(items(&page).len() <= 2);
        seen.extend(
            items(&page)
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let all: Vec<String> = items(&everything)
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, all);
    let mut sorted = all.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(sorted, all);

    // Bad queries and missing permission.
    let bad = |query: &'static str, status: u16, code: &'static str| {
        let platform = &platform;
        let token = a.token.clone();
        async move {
            problem(
                platform
                    .get_as(&token, &format!("/v1/audit-events{query}"))
                    .await,
                status,
                code,
            )
            .await;
        }
    };
    bad("?from=yesterday", 422, "invalid_timestamp").await;
    bad("?actor=someone", 400, "invalid_query").await;
    bad("?limit=0", 422, "invalid_limit").await;
    problem(
        platform
            .get_as(
                &platform.token(a.tenant, &["roles:read"]),
                "/v1/audit-events",
            )
            .await,
        403,
        "permission_denied",
    )
    .await;

    // Tenant B sees its own sign-up, none of A's events.
    let b_all = list(b.token.clone(), "?limit=100".into()).await;
    assert!(!items(&b_all).is_empty());
    let a_ids: Vec<String> = all.clone();
    for event in items(&b_all) {
        assert!(
            !a_ids.contains(&event["id"].as_str().unwrap().to_owned()),
            "{event}"
        );
        assert_ne!(event["actor_id"], a.user.to_string());
    }
    assert_eq!(
        list(b.token.clone(), "?action=auth.role.*".into()).await["items"],
        json!([])
    );
    assert_eq!(
        list(b.token.clone(), format!("?target_id={key_id}")).await["items"],
        json!([])
    );
    platform.stop().await;
}
