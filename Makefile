# The two commands of the README:
#   make run    build herald and run it (sets up a Postgres when none is reachable)
#   make test   run every test (sets up Postgres and Buildbot when missing)
.PHONY: run test build bench fake-telegram

GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

build:
	@command -v $(GO) >/dev/null 2>&1 || { echo "Go is not installed: see README"; exit 1; }
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/herald ./cmd/herald

run:
	@bash .ci/run-herald.sh

test:
	@bash .ci/test.sh

bench:
	@bash -c 'eval "$$(bash .ci/ensure-postgres.sh)" && $(GO) run ./cmd/herald-bench $(BENCHFLAGS)'
