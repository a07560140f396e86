terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State lives in a GCS bucket created once per project (see cloudbuild.yaml); the bucket and
  # prefix are given at init time: terraform init -backend-config=bucket=... -backend-config=prefix=...
  # Local checks that need no state: terraform init -backend=false && terraform validate.
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    app = "olympus"
  }
}
