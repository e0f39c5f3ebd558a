#!/usr/bin/env bash
# `make run`: builds herald and runs it. It needs a config file (herald.yaml, or $HERALD_CONFIG)
# and a Postgres: $DATABASE_URL when set, otherwise the one .ci/ensure-postgres.sh finds or
# creates (database "herald" in it is created when missing; the demo uses "herald_demo", made
# anew at every start).
# Without a config file and without $TELEGRAM_BOT_TOKEN it starts a demo: the fake Telegram
# Bot API (cmd/fake-telegram) on 127.0.0.1:8081, a fake GitHub (cmd/fake-github) on
# 127.0.0.1:8082 that plays workflow runs and posts signed webhooks to herald, and herald
# against both, so you can talk to herald with curl (see README, "Try it without a token").
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"

config=${HERALD_CONFIG:-herald.yaml}
demo=""
if [ ! -f "$config" ] && [ -z "${TELEGRAM_BOT_TOKEN:-}" ]; then
	echo "run: no $config and no TELEGRAM_BOT_TOKEN: starting the demo with the fake Telegram server" >&2
	config=testdata/demo.yaml
	demo=1
fi

if [ -z "${DATABASE_URL:-}" ]; then
	eval "$(bash .ci/ensure-postgres.sh)"
	admin=$HERALD_TEST_DATABASE_URL
	db=herald
	if [ -n "$demo" ]; then
		# The demo starts from an empty database of its own every time: the fakes start
		# afresh too (the fake Telegram numbers its updates from the same first id again,
		# which a database that remembers the last run would take for old updates).
		db=herald_demo
		psql "$admin" -qc "drop database if exists herald_demo" >/dev/null
	fi
	if ! psql "$admin" -Atqc "select 1 from pg_database where datname = '$db'" | grep -q 1; then
		psql "$admin" -qc "create database $db" >/dev/null
	fi
	export DATABASE_URL=${admin/\/postgres\?/\/$db?}
fi

mkdir -p bin
go build -ldflags "-X main.version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)" -o bin/herald ./cmd/herald

pids=""
if [ -n "$demo" ]; then
	go build -o bin/fake-telegram ./cmd/fake-telegram
	export TELEGRAM_BOT_TOKEN=123456:demo-token-not-secret
	bin/fake-telegram -listen 127.0.0.1:8081 -token "$TELEGRAM_BOT_TOKEN" &
	pids=$!
	export TELEGRAM_API_URL=http://127.0.0.1:8081
	# testdata/demo.yaml's ci entry "gh" names this token, secret and address; herald serves
	# the webhook on its http listener (127.0.0.1:8080).
	go build -o bin/fake-github ./cmd/fake-github
	bin/fake-github -listen 127.0.0.1:8082 -token demo-github-token \
		-webhook-url http://127.0.0.1:8080/ci/gh/webhook -webhook-secret demo-secret &
	pids="$pids $!"
fi
bin/herald --config "$config" serve &
herald=$!
# Pass Ctrl-C and TERM on to herald (it shuts down gracefully) and stop the demo server.
trap 'kill -TERM $herald 2>/dev/null; wait $herald; kill $pids 2>/dev/null; exit 0' INT TERM
trap 'kill $pids 2>/dev/null' EXIT
wait $herald
