#!/usr/bin/env bash
# Builds influxd 1.8.10 (github.com/influxdata/influxdb/cmd/influxd) from the Go module proxy into
# $BIFROST_PEERS_DIR/influxd-1.8/influxd, once. InfluxDB 1.8 also serves the 2.x write API
# (/api/v2/write, bucket `db/rp`, token `user:password`), so the InfluxDB connector's 2.x tests run
# against it; Debian's influxdb package (1.6) stays the 1.x peer. Needs Go on PATH (or /usr/local/go/bin).
# The testkit finds it through influxd2Binary() (`$BIFROST_INFLUXD2` overrides).
set -euo pipefail

INFLUXD_VERSION="v1.8.10"
peers_dir="${BIFROST_PEERS_DIR:-$HOME/.cache/bifrost-peers}"
dest="$peers_dir/influxd-1.8"
bin="$dest/influxd"
stamp="$dest/.influxd-$INFLUXD_VERSION"

if [ -x "$bin" ] && [ -f "$stamp" ]; then
  echo "[influxdb2] influxd $INFLUXD_VERSION already in $bin"
  exit 0
fi

# shellcheck source=lib/go.sh
source "$(dirname "$0")/lib/go.sh"
ensure_go influxdb2

mkdir -p "$dest"
echo "[influxdb2] building github.com/influxdata/influxdb/cmd/influxd@$INFLUXD_VERSION (once, about a minute)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" GOFLAGS=-buildvcs=false go install -trimpath "github.com/influxdata/influxdb/cmd/influxd@$INFLUXD_VERSION"
mv "$tmp/influxd" "$bin"
rm -f "$dest"/.influxd-*
touch "$stamp"
echo "[influxdb2] ready: $bin"
