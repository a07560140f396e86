output "load_balancer_ip" {
  description = "Address of the API load balancer (point the domains' A records here)."
  value       = google_compute_global_address.api.address
}

output "service_urls" {
  description = "run.app URL of every Cloud Run service (http ones accept only load-balancer traffic)."
  value       = { for name, service in google_cloud_run_v2_service.function : name => service.uri }
}

output "jobs" {
  description = "Cloud Run jobs, by function."
  value       = { for name, job in google_cloud_run_v2_job.function : name => job.id }
}

output "database_connection_name" {
  description = "Cloud SQL connection name (PROJECT:REGION:INSTANCE)."
  value       = module.database.connection_name
}

output "url_map_route_rules" {
  description = "The URL map's routing table: priority, method (null: fallback), path template, function."
  value       = local.url_map_route_rules
}
