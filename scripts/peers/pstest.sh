#!/usr/bin/env bash
# Builds the Google Cloud Pub/Sub fake (cloud.google.com/go/pubsub/pstest behind the small main in
# packages/connector-testkit/go/pstest) into $BIFROST_PEERS_DIR/bin/pstest, once per source change.
# Needs Go on PATH (or /usr/local/go/bin); modules come from the Go module proxy.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../../packages/connector-testkit/go/pstest"
peers_dir="${BIFROST_PEERS_DIR:-$HOME/.cache/bifrost-peers}"
bin="$peers_dir/bin/pstest"
# Rebuild when main.go / go.mod / go.sum change.
hash="$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" 2>/dev/null | sha256sum | cut -c1-16)"
stamp="$peers_dir/bin/.pstest-$hash"

if [ -x "$bin" ] && [ -f "$stamp" ]; then
  echo "[pstest] already built in $bin"
  exit 0
fi

# shellcheck source=lib/go.sh
source "$(dirname "$0")/lib/go.sh"
ensure_go pstest

mkdir -p "$peers_dir/bin"
echo "[pstest] building $src (once)"
(cd "$src" && GOFLAGS=-buildvcs=false go build -trimpath -o "$bin.tmp" .)
mv "$bin.tmp" "$bin"
rm -f "$peers_dir"/bin/.pstest-*
touch "$stamp"
echo "[pstest] ready: $bin"
