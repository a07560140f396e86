#!/usr/bin/env bash
# Installs what `make dev` and `make test` need and a fresh Debian machine with Rust lacks:
# PostgreSQL server binaries, the mold linker, cargo-nextest. The Pub/Sub emulator comes from
# Google's gcloud packages (google-cloud-cli-pubsub-emulator + a JRE); it is installed when
# the package is available from the configured apt sources, else the in-process bus is used
# by `make dev` and `make test` says what is missing. Quiet and quick when all is present.
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
