# The verbs of the Olympus workspace. `make dev` runs the platform locally; `make test` is what CI
# runs. Both install what they lack first (dev/setup.sh).

SHELL := /bin/bash
CARGO ?= cargo
FUNCTION ?=
BENCH_FUNCTION ?= list-dead-letters

# mold links dozens of binaries several times faster than ld.bfd on 2 cores.
# Added once and without stray spaces, so `cargo` run by hand with the same RUSTFLAGS shares
# the build instead of redoing it.
ifneq ($(shell command -v mold 2>/dev/null),)
ifeq ($(findstring -fuse-ld=mold,$(RUSTFLAGS)),)
export RUSTFLAGS := $(strip $(RUSTFLAGS) -C link-arg=-fuse-ld=mold)
endif
endif

TEST_RUNNER := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo "$(CARGO) nextest run --workspace --no-fail-fast --failure-output final" || echo "$(CARGO) test --workspace --no-fail-fast")

.PHONY: setup dev test fmt fmt-check lint terraform-check topology build images bench

setup:
	@bash dev/setup.sh

## The whole platform on http://127.0.0.1:8080 (Ctrl-C stops everything it started).
## SEED=demo also seeds a demo restaurant with eight weeks of orders once it listens.
dev: setup
	$(CARGO) run -p dev -- up$(if $(SEED), --seed $(SEED))

## Format, lint, Terraform checks and every test, with PostgreSQL and the emulator started here.
# The function binaries are not built here: no test runs them (the dev runner links every
# function as a library), clippy --all-targets has checked them, and `make build` links them. A
# debug copy of each is ~40 MB, 4+ GB in all, which once filled CI's disk.
test: setup fmt-check lint terraform-check
	$(CARGO) build --workspace --tests
	$(CARGO) run -q -p dev -- with-services -- $(TEST_RUNNER)

fmt:
	$(CARGO) fmt --all
	@command -v terraform >/dev/null && terraform fmt -recursive terraform || true

fmt-check:
	$(CARGO) fmt --all --check

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

terraform-check:
	@if command -v terraform >/dev/null; then \
	  terraform fmt -check -recursive -diff terraform; \
	else \
	  echo "terraform not installed: skipping terraform fmt (the HCL structure test still runs)"; \
	fi

## Regenerate terraform/functions.auto.tfvars.json from the function specs.
topology:
	$(CARGO) run -q -p dev -- topology

## Release build of one function (FUNCTION=name) or of all; the Dockerfile runs this target.
build:
ifeq ($(FUNCTION),)
	$(CARGO) build --release --locked $(patsubst functions/%/Cargo.toml,-p %,$(wildcard functions/*/Cargo.toml))
else
	$(CARGO) build --release --locked -p $(FUNCTION)
endif

## Container images of every function (needs a Docker engine; Cloud Build does this in CI/CD).
images:
	@for f in $(patsubst functions/%/Cargo.toml,%,$(wildcard functions/*/Cargo.toml)); do \
	  docker build --build-arg FUNCTION=$$f -f functions/Dockerfile -t olympus/$$f . || exit 1; \
	done

## Start-up time, idle memory, binary size and /healthz throughput of one release function, then
## what authentication costs (token verification, added latency, argon2 logins), then catalog
## reads (product by id, search) next to pgbench -S on the same cluster, then taking orders
## (POST /v1/orders, 3 lines with modifiers, placed) next to pgbench TPC-B-like at 16 and 64,
## then the sales rollup over 1M order lines and the 90-day sales report (bench-rollup).
bench:
	$(MAKE) build FUNCTION=$(BENCH_FUNCTION)
	$(CARGO) build --release --locked -p dev
	./target/release/dev bench --function $(BENCH_FUNCTION) --binary target/release/$(BENCH_FUNCTION)
	./target/release/dev bench-auth
	./target/release/dev bench-catalog
	./target/release/dev bench-orders
	./target/release/dev bench-rollup
