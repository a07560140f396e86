# Cloud SQL for PostgreSQL 15: one instance, one database, two roles.
#
# - owner (olympus_owner): runs the migrations (the migrate job), owns every schema and table.
# - app (olympus_app): what every other function connects as. It owns nothing, so the FORCEd
#   row-level security policies apply to it; the migrations grant it its privileges.
#
# Users created through the Cloud SQL API are members of cloudsqlsuperuser. Role attributes
# (BYPASSRLS included) are never inherited through membership, so RLS still applies to the app
# role; it just must never SET ROLE. Hardening later: IAM database authentication.
#
# Functions reach the instance through Cloud Run's /cloudsql mount (Cloud SQL connector over the
# public IP, IAM-authorised, no authorised networks), so DATABASE_URL is the key=value form with
# the Unix-socket directory as host. Each URL is one Secret Manager secret; the passwords are in
# Terraform state, which therefore lives in a locked-down bucket.

resource "google_sql_database_instance" "this" {
  name                = var.instance_name
  project             = var.project_id
  region              = var.region
  database_version    = "POSTGRES_15"
  deletion_protection = var.deletion_protection

  settings {
    tier              = var.tier
    edition           = "ENTERPRISE"
    availability_type = var.availability_type
    disk_autoresize   = true

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "02:00"
    }

    ip_configuration {
      ipv4_enabled = true
      ssl_mode     = "ENCRYPTED_ONLY"
    }

    insights_config {
      query_insights_enabled = true
    }

    maintenance_window {
      day  = 7
      hour = 3
    }

    dynamic "database_flags" {
      for_each = var.max_connections == null ? [] : [var.max_connections]
      content {
        name  = "max_connections"
        value = tostring(database_flags.value)
      }
    }

    deletion_protection_enabled = var.deletion_protection
  }
}

resource "google_sql_database" "olympus" {
  name     = var.database_name
  project  = var.project_id
  instance = google_sql_database_instance.this.name
}

# Alphanumeric passwords: nothing to quote in the key=value connection string.
resource "random_password" "owner" {
  length  = 32
  special = false
}

resource "random_password" "app" {
  length  = 32
  special = false
}

resource "google_sql_user" "owner" {
  name     = "olympus_owner"
  project  = var.project_id
  instance = google_sql_database_instance.this.name
  password = random_password.owner.result
  # Owns every object of the database: PostgreSQL refuses to drop it anyway.
  deletion_policy = "ABANDON"
}

resource "google_sql_user" "app" {
  name     = "olympus_app"
  project  = var.project_id
  instance = google_sql_database_instance.this.name
  password = random_password.app.result
}

locals {
  socket_host = "/cloudsql/${google_sql_database_instance.this.connection_name}"
}

resource "google_secret_manager_secret" "owner_database_url" {
  secret_id = "database-url-owner"
  project   = var.project_id

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "owner_database_url" {
  secret      = google_secret_manager_secret.owner_database_url.id
  secret_data = "host=${local.socket_host} user=${google_sql_user.owner.name} password=${random_password.owner.result} dbname=${google_sql_database.olympus.name}"
}

resource "google_secret_manager_secret" "app_database_url" {
  secret_id = "database-url-app"
  project   = var.project_id

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "app_database_url" {
  secret      = google_secret_manager_secret.app_database_url.id
  secret_data = "host=${local.socket_host} user=${google_sql_user.app.name} password=${random_password.app.result} dbname=${google_sql_database.olympus.name}"
}
