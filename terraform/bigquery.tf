# The analytics export (issue 6): a BigQuery dataset with one table per file in
# shared/bigquery/ — the same files the export-bigquery job embeds, so the code and the tables
# cannot drift (tests/tests/analytics_export.rs parses this file and checks it). Every table is
# partitioned by day on its partition_field and clustered by tenant_id; each has a
# <table>_current view that shows each row once, at its latest version
# (olympus::analytics::export explains why that is what makes the export exactly-once).

locals {
  bigquery_schema_dir = "${path.module}/../shared/bigquery"
  bigquery_tables = {
    for file in fileset(local.bigquery_schema_dir, "*.json") :
    trimsuffix(file, ".json") => jsondecode(file("${local.bigquery_schema_dir}/${file}"))
  }
}

resource "google_project_service" "bigquery" {
  service            = "bigquery.googleapis.com"
  disable_on_destroy = false
}

resource "google_bigquery_dataset" "analytics" {
  dataset_id  = var.bigquery_dataset
  location    = var.bigquery_location
  description = "Olympus analytics export: sales, payments, stock movements and daily rollups of every tenant (clustered by tenant_id)."

  depends_on = [google_project_service.bigquery]
}

resource "google_bigquery_table" "export" {
  for_each = local.bigquery_tables

  dataset_id          = google_bigquery_dataset.analytics.dataset_id
  table_id            = each.key
  description         = each.value.description
  schema              = jsonencode(each.value.fields)
  clustering          = ["tenant_id"]
  deletion_protection = true

  time_partitioning {
    type  = "DAY"
    field = each.value.partition_field
  }
}

# What readers query: per group (an order and its lines, a location-day of rollups) only the
# rows of the highest version, one per key. The same text as TableSpec::view_sql.
resource "google_bigquery_table" "current" {
  for_each = local.bigquery_tables

  dataset_id          = google_bigquery_dataset.analytics.dataset_id
  table_id            = "${each.key}_current"
  description         = "The latest version of each row of ${each.key}, once."
  deletion_protection = false

  view {
    use_legacy_sql = false
    query          = "SELECT * FROM `${var.project_id}.${google_bigquery_dataset.analytics.dataset_id}.${each.key}` WHERE TRUE QUALIFY ${each.value.version} = MAX(${each.value.version}) OVER (PARTITION BY ${join(", ", each.value.group)}) AND ROW_NUMBER() OVER (PARTITION BY ${join(", ", each.value.key)} ORDER BY ${each.value.version} DESC) = 1"
  }

  depends_on = [google_bigquery_table.export]
}

# The export job writes rows (tabledata.insertAll needs bigquery.tables.updateData); nothing
# else may write to the dataset.
resource "google_bigquery_dataset_iam_member" "export_writer" {
  for_each = toset([for name, fn in var.functions : name if name == var.bigquery_export_function])

  dataset_id = google_bigquery_dataset.analytics.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.function[each.key].email}"
}
