#!/usr/bin/env bash
# Runs every test of herald on a fresh Debian machine: makes a Postgres available, installs
# Buildbot for the provider's and the end-to-end tests, then go vet and go test.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"
eval "$(bash .ci/ensure-postgres.sh)"
bash .ci/ensure-buildbot.sh
go vet ./...
go test -count=1 -timeout 75m ${GOTESTFLAGS:-} ./...
