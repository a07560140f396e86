#!/usr/bin/env bash
# Installs what `make dev` and `make test` need and a fresh Debian machine with Rust lacks:
# PostgreSQL server binaries, the mold linker, cargo-nextest. The Pub/Sub emulator comes from
# Google's gcloud packages (google-cloud-cli-pubsub-emulator + a JRE); it is installed when
# the package is available from the configured apt sources, else the in-process bus is used
# by `make dev` and `make test` says what is missing. The BigQuery emulator (bqemulator, from
# PyPI) goes into a project-local venv, .dev/bigquery-emulator (git-ignored). Quiet and quick
# when all is present.
set -euo pipefail

need_apt=()
command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] || need_apt+=(postgresql postgresql-contrib)
command -v mold >/dev/null 2>&1 || need_apt+=(mold)
if ! command -v gcloud >/dev/null 2>&1 || [ ! -x "$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null)/platform/pubsub-emulator/bin/cloud-pubsub-emulator" ]; then
  want_emulator=1
else
  want_emulator=0
fi

if [ ${#need_apt[@]} -gt 0 ] || [ "$want_emulator" = 1 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    if [ ${#need_apt[@]} -gt 0 ]; then
      echo "setup: installing ${need_apt[*]}"
      apt-get install -y -qq "${need_apt[@]}" >/dev/null
    fi
    if [ "$want_emulator" = 1 ]; then
      if apt-cache show google-cloud-cli-pubsub-emulator >/dev/null 2>&1; then
        echo "setup: installing the Pub/Sub emulator"
        apt-get install -y -qq google-cloud-cli google-cloud-cli-pubsub-emulator default-jre-headless >/dev/null
      else
        echo "setup: the Pub/Sub emulator (google-cloud-cli-pubsub-emulator) is not in the apt sources;"
        echo "       add Google's Cloud SDK apt repository to install it. make dev uses the in-process bus meanwhile."
      fi
    fi
  else
    [ ${#need_apt[@]} -gt 0 ] && echo "setup: please install: ${need_apt[*]} (sudo apt-get install ${need_apt[*]})"
    [ "$want_emulator" = 1 ] && echo "setup: optional: google-cloud-cli-pubsub-emulator for the Pub/Sub emulator"
  fi
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest"
  cargo install --locked cargo-nextest >/dev/null 2>&1 || echo "setup: cargo-nextest unavailable; make test falls back to cargo test"
fi

# The BigQuery emulator: bqemulator (DuckDB-backed BigQuery REST API) in a project-local venv.
# It loads DuckDB's spatial extension at start and cannot download it offline, so the copy the
# duckdb-extension-spatial wheel ships goes where DuckDB looks, under the emulator's own HOME
# (dev/src/services.rs starts it with HOME set there). Versions pinned: the extension must match
# DuckDB's version exactly.
BQ_DIR=.dev/bigquery-emulator
BQ_PACKAGES=(bqemulator==1.4.0 duckdb==1.5.5 duckdb-extension-spatial==1.5.5 numpy)
if [ ! -x "$BQ_DIR/venv/bin/bqemulator" ] || [ ! -f "$BQ_DIR/installed" ] || [ "$(cat "$BQ_DIR/installed")" != "${BQ_PACKAGES[*]}" ]; then
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "setup: installing python3-venv"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq python3-venv >/dev/null
    else
      echo "setup: please install python3-venv for the BigQuery emulator (sudo apt-get install python3-venv)"
    fi
  fi
  echo "setup: installing the BigQuery emulator into $BQ_DIR (bqemulator from PyPI)"
  started=$SECONDS
  if python3 -m venv "$BQ_DIR/venv" \
    && "$BQ_DIR/venv/bin/pip" install -q --disable-pip-version-check --only-binary=:all: "${BQ_PACKAGES[@]}" \
    && HOME_DIR="$BQ_DIR/home" "$BQ_DIR/venv/bin/python" - <<'PY'
import os, pathlib, shutil
import duckdb, duckdb_extension_spatial
source = next(pathlib.Path(duckdb_extension_spatial.__file__).parent.glob("extensions/*/spatial.duckdb_extension"))
platform = duckdb.sql("PRAGMA platform").fetchone()[0]
target = pathlib.Path(os.environ["HOME_DIR"]) / ".duckdb" / "extensions" / source.parent.name / platform
target.mkdir(parents=True, exist_ok=True)
shutil.copy(source, target / source.name)
PY
  then
    echo "${BQ_PACKAGES[*]}" > "$BQ_DIR/installed"
    echo "setup: BigQuery emulator installed in $((SECONDS - started)) s ($(du -sh "$BQ_DIR" | cut -f1))"
  else
    echo "setup: the BigQuery emulator could not be installed; the export tests against it will fail"
  fi
fi
