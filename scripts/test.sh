#!/usr/bin/env bash
# Runs the whole test suite: go vet, then go test over every package.
#
# Tests that need a real server use it when it is there:
#   PostgreSQL  STEWARD_TEST_POSTGRES=postgres://…; if unset and the Debian
#               server binaries are installed, a throwaway cluster is started
#               here and removed afterwards.
#   OpenLDAP    slapd and ldap-utils; the LDAP tests start their own server
#               through scripts/slapd.sh.
#   Chromium    /usr/bin/chromium (browser tests of the web UI).
# Without them those tests skip, unless STEWARD_TEST_STRICT=1 (set by CI),
# which turns every such skip into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
cleanup() {
	scripts/postgres.sh stop "$tmp/pg" || true
	rm -rf "$tmp"
}
trap cleanup EXIT
if [ -z "${STEWARD_TEST_POSTGRES:-}" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	STEWARD_TEST_POSTGRES=$(scripts/postgres.sh start "$tmp/pg")
	export STEWARD_TEST_POSTGRES
	echo "test.sh: throwaway PostgreSQL at $STEWARD_TEST_POSTGRES"
fi
go vet ./...
go tool staticcheck ./...
# -count=1: a cached pass says nothing about the servers running now.
go test -count=1 -timeout 12m ${GOTESTFLAGS:-} ./...
