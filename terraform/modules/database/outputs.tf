output "connection_name" {
  description = "PROJECT:REGION:INSTANCE, for the Cloud Run /cloudsql mount."
  value       = google_sql_database_instance.this.connection_name
}

output "instance_name" {
  description = "Cloud SQL instance name."
  value       = google_sql_database_instance.this.name
}

output "database_name" {
  description = "Application database name."
  value       = google_sql_database.olympus.name
}

output "owner_database_url_secret_id" {
  description = "Secret holding the owner's DATABASE_URL (migrations only)."
  value       = google_secret_manager_secret.owner_database_url.secret_id
  # Consumers must not start before the secret has a "latest" version.
  depends_on = [google_secret_manager_secret_version.owner_database_url]
}

output "app_database_url_secret_id" {
  description = "Secret holding the app role's DATABASE_URL (every other function)."
  value       = google_secret_manager_secret.app_database_url.secret_id
  depends_on  = [google_secret_manager_secret_version.app_database_url]
}
