#!/usr/bin/env bash
# Builds influxd 1.8.10 (github.com/influxdata/influxdb/cmd/influxd) from the Go module proxy into
# $BIFROST_PEERS_DIR/influxd-1.8/influxd, once. InfluxDB 1.8 also serves the 2.x write API
# (/api/v2/write, bucket `db/rp`, token `user:password`), so the InfluxDB connector's 2.x tests run
# against it; Debian's influxdb package (1.6) stays the 1.x peer. Needs Go on PATH (or /usr/local/go/bin).
# The testkit finds it through influxd2Binary() (`$BIFROST_INFLUXD2` overrides).
set -euo pipefail

peers_dir="${BIFROST_PEERS_DIR:-$HOME/.cache/bifrost-peers}"

# shellcheck source=lib/go.sh
source "$(dirname "$0")/lib/go.sh"
go_install_once influxdb2 github.com/influxdata/influxdb/cmd/influxd v1.8.10 "$peers_dir/influxd-1.8/influxd"
