# One service account per function: each gets exactly the access its own spec implies.

resource "google_service_account" "function" {
  for_each = var.functions

  account_id   = local.service_account_ids[each.key]
  display_name = "Olympus function ${each.key}"
  description  = "Runs the ${each.value.kind} function ${each.key}."

  depends_on = [google_project_service.apis]
}

# Identity in the OIDC tokens of Pub/Sub push deliveries; the only invoker of event functions.
resource "google_service_account" "pubsub_push" {
  account_id   = "olympus-pubsub-push"
  display_name = "Olympus Pub/Sub push"

  depends_on = [google_project_service.apis]
}

# Identity of Cloud Scheduler when it starts scheduled Cloud Run jobs.
resource "google_service_account" "scheduler" {
  account_id   = "olympus-scheduler"
  display_name = "Olympus Cloud Scheduler"

  depends_on = [google_project_service.apis]
}

# Connecting through the /cloudsql mount needs Cloud SQL Client on the service's identity.
resource "google_project_iam_member" "function_cloudsql_client" {
  for_each = var.functions

  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.function[each.key].email}"
}

# Pub/Sub's service agent must be able to mint OIDC tokens for the push identity (needed on
# projects created before April 2021, harmless after).
resource "google_service_account_iam_member" "pubsub_push_token_creator" {
  service_account_id = google_service_account.pubsub_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}
