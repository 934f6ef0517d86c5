#!/usr/bin/env bash
# Builds the Toxiproxy server (github.com/Shopify/toxiproxy/v2/cmd/server) from the Go module proxy
# into $BIFROST_PEERS_DIR/bin/toxiproxy-server, once. Needs Go 1.22+ on PATH (or /usr/local/go/bin).
# The testkit's Toxiproxy peer (packages/connector-testkit/src/peers/toxiproxy.ts) runs that binary.
set -euo pipefail

TOXIPROXY_VERSION="${BIFROST_TOXIPROXY_VERSION:-latest}"
peers_dir="${BIFROST_PEERS_DIR:-$HOME/.cache/bifrost-peers}"

# shellcheck source=lib/go.sh
source "$(dirname "$0")/lib/go.sh"
go_install_once toxiproxy github.com/Shopify/toxiproxy/v2/cmd/server "$TOXIPROXY_VERSION" "$peers_dir/bin/toxiproxy-server"
