#!/usr/bin/env bash
# Builds the Toxiproxy server (github.com/Shopify/toxiproxy/v2/cmd/server) from the Go module proxy
# into $BIFROST_PEERS_DIR/bin/toxiproxy-server, once. Needs Go 1.22+ on PATH (or /usr/local/go/bin).
# The testkit's Toxiproxy peer (packages/connector-testkit/src/peers/toxiproxy.ts) runs that binary.
set -euo pipefail

TOXIPROXY_VERSION="${BIFROST_TOXIPROXY_VERSION:-latest}"
peers_dir="${BIFROST_PEERS_DIR:-$HOME/.cache/bifrost-peers}"
bin="$peers_dir/bin/toxiproxy-server"
stamp="$peers_dir/bin/.toxiproxy-$TOXIPROXY_VERSION"

if [ -x "$bin" ] && [ -f "$stamp" ]; then
  echo "[toxiproxy] $TOXIPROXY_VERSION already in $bin"
  exit 0
fi

# shellcheck source=lib/go.sh
source "$(dirname "$0")/lib/go.sh"
ensure_go toxiproxy

mkdir -p "$peers_dir/bin"
echo "[toxiproxy] building github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION (once)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" GOFLAGS=-buildvcs=false go install -trimpath "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
mv "$tmp/server" "$bin"
rm -f "$peers_dir"/bin/.toxiproxy-*
touch "$stamp"
echo "[toxiproxy] ready: $bin"
