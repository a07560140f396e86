variable "project_id" {
  description = "Project of the instance."
  type        = string
}

variable "region" {
  description = "Region of the instance (the Cloud Run services' region)."
  type        = string
}

variable "instance_name" {
  description = "Cloud SQL instance name."
  type        = string
  default     = "olympus"
}

variable "database_name" {
  description = "The one application database."
  type        = string
  default     = "olympus"
}

variable "tier" {
  description = "Machine tier."
  type        = string
  default     = "db-custom-1-3840"
}

variable "availability_type" {
  description = "ZONAL or REGIONAL."
  type        = string
  default     = "ZONAL"
}

variable "max_connections" {
  description = "max_connections flag; null keeps Cloud SQL's default for the tier."
  type        = number
  default     = null
}

variable "deletion_protection" {
  description = "Protect the instance against deletion."
  type        = bool
  default     = true
}
