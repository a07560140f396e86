module "database" {
  source = "./modules/database"

  project_id          = var.project_id
  region              = var.region
  tier                = var.database_tier
  availability_type   = var.database_availability_type
  max_connections     = var.database_max_connections
  deletion_protection = var.database_deletion_protection

  depends_on = [google_project_service.apis]
}
