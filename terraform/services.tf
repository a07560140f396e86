# One Cloud Run service per http and event function, one Cloud Run job per job function; every
# function runs its own image REGISTRY/NAME:TAG under its own service account.

resource "google_cloud_run_v2_service" "function" {
  for_each = local.service_functions

  name     = each.key
  location = var.region
  # http functions are reached only through the load balancer; event functions only by Pub/Sub
  # push (authenticated, see the invoker bindings below).
  ingress             = each.value.kind == "http" ? "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER" : "INGRESS_TRAFFIC_ALL"
  deletion_protection = false

  labels = {
    function = each.key
    kind     = each.value.kind
  }

  template {
    service_account                  = google_service_account.function[each.key].email
    timeout                          = "${each.value.kind == "event" ? var.ack_deadline_seconds : var.request_timeout_seconds}s"
    max_instance_request_concurrency = var.concurrency

    scaling {
      min_instance_count = 0
      max_instance_count = var.max_instances
    }

    volumes {
      name = "cloudsql"
      cloud_sql_instance {
        instances = [module.database.connection_name]
      }
    }

    containers {
      image = "${local.image_registry}/${each.key}:${var.image_tag}"

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        # Request-based billing: CPU is throttled outside requests, which is why functions
        # publish before they respond.
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = each.value.kind == "http" ? local.http_env : local.common_env
        content {
          name  = env.key
          value = env.value
        }
      }

      env {
        name = "DATABASE_URL"
        value_source {
          secret_key_ref {
            secret  = local.database_url_secret[each.key]
            version = "latest"
          }
        }
      }

      env {
        name = "AUTH_JWKS"
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.auth_jwks.secret_id
            version = "latest"
          }
        }
      }

      dynamic "env" {
        for_each = contains(local.signing_key_functions, each.key) ? [google_secret_manager_secret.auth_signing_key.secret_id] : []
        content {
          name = "AUTH_SIGNING_KEY"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }

      dynamic "env" {
        for_each = contains(local.smtp_functions, each.key) ? [google_secret_manager_secret.smtp_url.secret_id] : []
        content {
          name = "SMTP_URL"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }

      volume_mounts {
        name       = "cloudsql"
        mount_path = "/cloudsql"
      }

      startup_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds    = 1
        timeout_seconds   = 1
        failure_threshold = 10
      }
    }
  }

  depends_on = [
    google_project_iam_member.function_cloudsql_client,
    google_secret_manager_secret_iam_member.auth_jwks,
    google_secret_manager_secret_iam_member.auth_signing_key,
    google_secret_manager_secret_iam_member.smtp_url,
    google_secret_manager_secret_iam_member.database_url,
    google_secret_manager_secret_version.auth_jwks_initial,
  ]
}

# http functions authenticate every request themselves (JWT or API key) and are reachable only
# through the load balancer (ingress above), so the service itself admits everyone.
resource "google_cloud_run_v2_service_iam_member" "http_public" {
  for_each = local.http_functions

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Event functions: only Pub/Sub push deliveries, signed as the push service account.
resource "google_cloud_run_v2_service_iam_member" "event_pubsub_push" {
  for_each = local.event_functions

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.pubsub_push.email}"
}

resource "google_cloud_run_v2_job" "function" {
  for_each = local.job_functions

  name                = each.key
  location            = var.region
  deletion_protection = false

  labels = {
    function = each.key
    kind     = each.value.kind
  }

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.function[each.key].email
      timeout         = "${var.job_timeout_seconds}s"
      max_retries     = var.job_max_retries

      volumes {
        name = "cloudsql"
        cloud_sql_instance {
          instances = [module.database.connection_name]
        }
      }

      containers {
        # CLOUD_RUN_JOB is set by Cloud Run: the binary runs the job once and exits 0/1.
        image = "${local.image_registry}/${each.key}:${var.image_tag}"

        resources {
          limits = {
            cpu    = var.cpu
            memory = var.memory
          }
        }

        dynamic "env" {
          for_each = local.common_env
          content {
            name  = env.key
            value = env.value
          }
        }

        env {
          name = "DATABASE_URL"
          value_source {
            secret_key_ref {
              secret  = local.database_url_secret[each.key]
              version = "latest"
            }
          }
        }

        env {
          name = "AUTH_JWKS"
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.auth_jwks.secret_id
              version = "latest"
            }
          }
        }

        volume_mounts {
          name       = "cloudsql"
          mount_path = "/cloudsql"
        }
      }
    }
  }

  depends_on = [
    google_project_iam_member.function_cloudsql_client,
    google_secret_manager_secret_iam_member.auth_jwks,
    google_secret_manager_secret_iam_member.database_url,
    google_secret_manager_secret_version.auth_jwks_initial,
  ]
}

# Scheduled jobs: Cloud Scheduler calls the Cloud Run Admin API's jobs.run as the scheduler
# service account, which may run exactly the scheduled jobs (run.invoker includes run.jobs.run).
resource "google_cloud_run_v2_job_iam_member" "scheduler_invoker" {
  for_each = local.scheduled_jobs

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.function[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "function" {
  for_each = local.scheduled_jobs

  name             = each.key
  region           = var.region
  description      = "Runs the Cloud Run job ${each.key} on ${each.value.schedule} (UTC)."
  schedule         = each.value.schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  # A missed tick is not retried: the job runs again at the next one.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.function[each.key].name}:run"

    oauth_token {
      service_account_email = google_service_account.scheduler.email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [google_cloud_run_v2_job_iam_member.scheduler_invoker]
}
