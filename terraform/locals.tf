# Everything below is derived from var.functions; resources iterate over these maps with for_each.
# The Rust test tests/tests/terraform.rs evaluates these expressions against the generated
# topology, so keep to the functions it implements (see its `functions()` list).

locals {
  http_functions  = { for name, fn in var.functions : name => fn if fn.kind == "http" }
  event_functions = { for name, fn in var.functions : name => fn if fn.kind == "event" }
  job_functions   = { for name, fn in var.functions : name => fn if fn.kind == "job" }

  # http and event functions are Cloud Run services; job functions are Cloud Run jobs.
  service_functions = { for name, fn in var.functions : name => fn if fn.kind == "http" || fn.kind == "event" }
  scheduled_jobs    = { for name, fn in local.job_functions : name => fn if fn.schedule != null }

  # Every event function except the one consuming the dead-letter topic gets a dead-letter policy
  # (a subscription on the dead-letter topic must not dead-letter into itself).
  dead_lettered_subscriptions = { for name, fn in local.event_functions : name => fn if fn.topic != var.dead_letter_topic }

  # One topic per event type, plus the dead-letter topic.
  all_topics = toset(concat(var.topics, [var.dead_letter_topic]))

  # (function, topic) pairs: each function may publish to exactly the topics it declares.
  publications = {
    for pair in flatten([
      for name, fn in var.functions : [for topic in fn.publishes : { function = name, topic = topic }]
    ]) : "${pair.function}/${pair.topic}" => pair
  }

  image_registry = var.image_registry != null ? var.image_registry : "${var.region}-docker.pkg.dev/${var.project_id}/${var.image_repository}"

  # Service account ids are 6-30 characters: short names map to fn-NAME, long ones are truncated
  # and made unique with a hash.
  service_account_ids = {
    for name, fn in var.functions : name => (
      length(name) <= 27 ? "fn-${name}" : "fn-${substr(name, 0, 18)}-${substr(sha1(name), 0, 8)}"
    )
  }

  # Which DATABASE_URL secret each function reads: the owner's for migrations, the app role's for
  # everyone else (functions connect as a non-owner role so row-level security applies).
  database_url_secret = {
    for name, fn in var.functions : name => (
      contains(var.database_owner_functions, name) ? module.database.owner_database_url_secret_id : module.database.app_database_url_secret_id
    )
  }

  # Secrets beyond DATABASE_URL and AUTH_JWKS come from each function's spec (`.secrets(...)`).
  signing_key_functions = toset([for name, fn in var.functions : name if contains(fn.secrets, "AUTH_SIGNING_KEY")])
  smtp_functions        = toset([for name, fn in var.functions : name if contains(fn.secrets, "SMTP_URL")])

  # Plain environment of every function container (secrets are added separately).
  # K_SERVICE (services) and CLOUD_RUN_JOB (jobs) are set by Cloud Run itself, PORT by Cloud Run
  # and the image.
  common_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    AUTH_ISSUER          = var.auth_issuer
    AUTH_AUDIENCE        = var.auth_audience
    AUTH_SIGNING_KEY_ID  = var.auth_signing_key_id
    AUTH_SIGNING_ALG     = var.auth_signing_alg
    MAIL_FROM            = var.mail_from
    PUBLIC_APP_URL       = var.public_app_url
    DATABASE_POOL_SIZE   = tostring(var.database_pool_size)
    RUST_LOG             = var.log_level
    # The dataset export-bigquery writes to (terraform/bigquery.tf); the other functions
    # ignore it.
    BIGQUERY_DATASET = var.bigquery_dataset
  }
  http_env = merge(local.common_env, {
    CORS_ALLOWED_ORIGINS = join(",", var.cors_allowed_origins)
  })

  # ---------------------------------------------------------------------------------------------
  # URL map route rules.
  #
  # A URL map cannot route on the method through path rules, but route rules can: a match rule
  # with `header_matches { header_name = ":method" }` matches the request method (supported by
  # the global external Application Load Balancer, EXTERNAL_MANAGED). So every (method, path
  # template) of every http function becomes one route rule with a path_template_match and a
  # :method header match; the same path served by different functions for different methods
  # (GET /v1/orders/{id} by get-order, PATCH /v1/orders/{id} by update-order) routes correctly.
  #
  # Each distinct path additionally gets a method-less fallback rule right after its method
  # rules, sent to the function serving GET on that path (or the first one): HEAD, OPTIONS
  # (CORS preflight) and unsupported methods reach a function that knows the path and answers
  # 200 / 204 / 405 itself instead of falling through to the default service's 404.
  #
  # Route rules are evaluated by priority, first match wins, so the order matters where
  # templates overlap (/v1/orders/search vs /v1/orders/{id=*}). Paths are ordered by their
  # "shape": the template with every wildcard segment replaced by "~" ("~~" for a multi-segment
  # "**" one). "~" sorts after every character of a literal path, so in the sorted shapes a
  # literal segment comes before a wildcard at the first segment where two paths differ — the
  # most specific route wins, as in the functions' own (axum) routers. Templates that differ only
  # in variable names share a shape, and so one group of method rules and one fallback.
  #
  # Priorities: 100 per shape, method rules at +0.., the fallback at +99 (up to 99 methods per
  # path). One rule per route plus one per path stays far below the URL map size limits.
  # ---------------------------------------------------------------------------------------------
  http_routes = flatten([
    for name, fn in local.http_functions : [
      for route in fn.routes : {
        function      = name
        method        = upper(route.method)
        path_template = route.path_template
        shape = join("/", [
          for segment in split("/", route.path_template) :
          strcontains(segment, "**") ? "~~" : (strcontains(segment, "*") ? "~" : segment)
        ])
      }
    ]
  ])

  route_shapes = sort(distinct([for route in local.http_routes : route.shape]))

  route_groups = [
    for shape in local.route_shapes : [for route in local.http_routes : route if route.shape == shape]
  ]

  url_map_route_rules = flatten([
    for index, group in local.route_groups : concat(
      [
        for offset, route in group : {
          priority      = index * 100 + offset
          function      = route.function
          method        = route.method
          path_template = route.path_template
        }
      ],
      [
        {
          priority      = index * 100 + 99
          function      = concat([for route in group : route.function if route.method == "GET"], [group[0].function])[0]
          method        = null
          path_template = group[0].path_template
        }
      ]
    )
  ])

  default_http_function = var.default_http_function != null ? var.default_http_function : (
    length(local.http_functions) > 0 ? sort(keys(local.http_functions))[0] : null
  )
}
