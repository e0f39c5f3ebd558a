#!/usr/bin/env bash
# Installs Debian's Buildbot master and worker when they are missing. The Buildbot provider's
# tests run a real master from these packages. Idempotent and quiet when there is nothing to do.
set -euo pipefail

if command -v buildbot >/dev/null 2>&1 && command -v buildbot-worker >/dev/null 2>&1; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi

echo "ensure-buildbot: installing buildbot and buildbot-worker from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends buildbot buildbot-worker >/dev/null
echo "ensure-buildbot: $(buildbot --version 2>&1 | head -n1)" >&2
