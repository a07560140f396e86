# Alerting skeleton: parked events and server errors. Channels come from
# var.alert_notification_channels (none: the incidents still show in the console).

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "Olympus: events parked on the dead-letter topic"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "Messages forwarded to the dead-letter topic"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/dead_letter_message_count\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.subscription_id"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A consumer gave up on an event after ${var.max_delivery_attempts} deliveries. Inspect it with GET /v1/admin/dead-letters and replay it with POST /v1/admin/dead-letters/replay once fixed."
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "server_errors" {
  display_name          = "Olympus: 5xx responses"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "5xx rate of a Cloud Run service"

    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_5xx_per_second
      duration        = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A function answers 5xx. Its logs (severity ERROR, correlated by trace) say why; bodies of 5xx answers never carry the details."
  }

  depends_on = [google_project_service.apis]
}
