# Inputs of the BigQuery export (bigquery.tf).

variable "bigquery_dataset" {
  description = "Dataset the export-bigquery job writes to (its BIGQUERY_DATASET)."
  type        = string
  default     = "olympus_analytics"
}

variable "bigquery_location" {
  description = "Location of the BigQuery dataset (a multi-region such as EU or US, or a region)."
  type        = string
  default     = "EU"
}

variable "bigquery_export_function" {
  description = "The function that writes to the dataset (granted roles/bigquery.dataEditor on it)."
  type        = string
  default     = "export-bigquery"
}
