# Secret containers of the auth module. DATABASE_URL secrets live in modules/database.
#
# AUTH_JWKS: the public JSON Web Key Set every function verifies access tokens with. Terraform
# creates an empty first version so services can start; rotation adds newer versions out of band
# (the services read "latest" at start-up) and Terraform never overwrites them.
#
# auth-signing-key: the private key of the token-issuing functions (those whose spec lists the
# AUTH_SIGNING_KEY secret). smtp-url: the SMTP URL (with credentials) of the mail handlers.
# Terraform creates only the container; its versions are added out of band, so the key never
# passes through Terraform state.

resource "google_secret_manager_secret" "auth_jwks" {
  secret_id = "auth-jwks"

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "auth_jwks_initial" {
  secret      = google_secret_manager_secret.auth_jwks.id
  secret_data = jsonencode({ keys = [] })

  lifecycle {
    ignore_changes = [secret_data]
  }
}

resource "google_secret_manager_secret" "auth_signing_key" {
  secret_id = "auth-signing-key"

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "smtp_url" {
  secret_id = "smtp-url"

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_iam_member" "smtp_url" {
  for_each = local.smtp_functions

  secret_id = google_secret_manager_secret.smtp_url.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.key].email}"
}

resource "google_secret_manager_secret_iam_member" "auth_jwks" {
  for_each = var.functions

  secret_id = google_secret_manager_secret.auth_jwks.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.key].email}"
}

resource "google_secret_manager_secret_iam_member" "auth_signing_key" {
  for_each = local.signing_key_functions

  secret_id = google_secret_manager_secret.auth_signing_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.key].email}"
}

resource "google_secret_manager_secret_iam_member" "database_url" {
  for_each = var.functions

  secret_id = local.database_url_secret[each.key]
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.key].email}"
}
