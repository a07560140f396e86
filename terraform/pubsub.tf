# One topic per event type (named by it, e.g. sales.order.paid) plus the dead-letter topic; one
# push subscription per event function, delivered to its service at its push_path.

resource "google_pubsub_topic" "topic" {
  for_each = local.all_topics

  name = each.key

  # Parked messages must outlive a long weekend even before anyone reads them.
  message_retention_duration = each.key == var.dead_letter_topic ? "604800s" : null

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_subscription" "push" {
  for_each = local.event_functions

  # The subscription is named after its function: consumers dedupe on (subscription, event id).
  name  = each.key
  topic = google_pubsub_topic.topic[each.value.topic].id

  ack_deadline_seconds       = var.ack_deadline_seconds
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = "" # never expires, however quiet the topic
  }

  push_config {
    push_endpoint = "${google_cloud_run_v2_service.function[each.key].uri}${each.value.push_path}"

    oidc_token {
      service_account_email = google_service_account.pubsub_push.email
      audience              = google_cloud_run_v2_service.function[each.key].uri
    }
  }

  # A 5xx answer (or a timeout) is retried with exponential backoff ...
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  # ... and after max_delivery_attempts the message is parked on the dead-letter topic, where
  # the dead-letter consumer records it. Its own subscription has no dead-letter policy.
  dynamic "dead_letter_policy" {
    for_each = each.value.topic == var.dead_letter_topic ? [] : [var.dead_letter_topic]
    content {
      dead_letter_topic     = google_pubsub_topic.topic[dead_letter_policy.value].id
      max_delivery_attempts = var.max_delivery_attempts
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.event_pubsub_push,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

# Pub/Sub's service agent forwards undeliverable messages: it publishes to the dead-letter topic
# and acknowledges them on (subscribes to) the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.topic[var.dead_letter_topic].name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.dead_lettered_subscriptions

  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# Each function may publish to exactly the topics its spec declares, and nothing else.
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.publications

  topic  = google_pubsub_topic.topic[each.value.topic].name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.function[each.value.function].email}"
}
