# Global external Application Load Balancer (EXTERNAL_MANAGED, Envoy-based: route rules with
# path templates and :method header matches). One serverless NEG and one backend service per
# http function; the URL map sends each (method, path template) to its function. See the long
# comment on url_map_route_rules in locals.tf for the routing rules and their order.

resource "google_compute_region_network_endpoint_group" "function" {
  for_each = local.http_functions

  name                  = "neg-${each.key}"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = google_cloud_run_v2_service.function[each.key].name
  }
}

resource "google_compute_backend_service" "function" {
  for_each = local.http_functions

  name                  = "be-${each.key}"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"

  backend {
    group = google_compute_region_network_endpoint_group.function[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = 1
  }
}

resource "google_compute_url_map" "api" {
  name = "olympus-api"

  # Requests that match no route: any function answers an unknown path with a problem+json 404.
  default_service = google_compute_backend_service.function[local.default_http_function].id

  host_rule {
    hosts        = length(var.domains) > 0 ? var.domains : ["*"]
    path_matcher = "api"
  }

  path_matcher {
    name            = "api"
    default_service = google_compute_backend_service.function[local.default_http_function].id

    dynamic "route_rules" {
      for_each = local.url_map_route_rules
      content {
        priority = route_rules.value.priority
        service  = google_compute_backend_service.function[route_rules.value.function].id

        match_rules {
          path_template_match = route_rules.value.path_template

          dynamic "header_matches" {
            for_each = route_rules.value.method == null ? [] : [route_rules.value.method]
            content {
              header_name = ":method"
              exact_match = header_matches.value
            }
          }
        }
      }
    }
  }
}

resource "google_compute_global_address" "api" {
  name = "olympus-api"

  depends_on = [google_project_service.apis]
}

# HTTPS with a Google-managed certificate when domains are configured.
resource "google_compute_managed_ssl_certificate" "api" {
  count = length(var.domains) > 0 ? 1 : 0

  # Named by its domains: a change creates the new certificate before the old one goes.
  name = "olympus-api-${substr(sha1(join(",", sort(var.domains))), 0, 8)}"

  managed {
    domains = var.domains
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_target_https_proxy" "api" {
  count = length(var.domains) > 0 ? 1 : 0

  name             = "olympus-api-https"
  url_map          = google_compute_url_map.api.id
  ssl_certificates = [google_compute_managed_ssl_certificate.api[0].id]
}

resource "google_compute_global_forwarding_rule" "https" {
  count = length(var.domains) > 0 ? 1 : 0

  name                  = "olympus-api-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_protocol           = "TCP"
  port_range            = "443"
  ip_address            = google_compute_global_address.api.address
  target                = google_compute_target_https_proxy.api[0].id
}

# Port 80 redirects to HTTPS when there are domains, and serves the API itself otherwise (a test
# project without a domain).
resource "google_compute_url_map" "https_redirect" {
  count = length(var.domains) > 0 ? 1 : 0

  name = "olympus-api-https-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "api" {
  name    = "olympus-api-http"
  url_map = length(var.domains) > 0 ? google_compute_url_map.https_redirect[0].id : google_compute_url_map.api.id
}

resource "google_compute_global_forwarding_rule" "http" {
  name                  = "olympus-api-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_protocol           = "TCP"
  port_range            = "80"
  ip_address            = google_compute_global_address.api.address
  target                = google_compute_target_http_proxy.api.id
}
