#!/usr/bin/env bash
# Builds Telegraf (github.com/influxdata/telegraf/cmd/telegraf), the peer product the `peers` bench
# measures against, from the Go module proxy into $BIFROST_PEERS_DIR/bin/telegraf, once. Only the
# plugins the benches and the line-protocol ingest test use are compiled in (Telegraf's `custom`
# build tag): inputs.http_listener_v2, outputs.mqtt, outputs.influxdb, outputs.influxdb_v2, the influx and json parsers
# and serializers. Needs Go on PATH (or /usr/local/go/bin).
set -euo pipefail

TELEGRAF_VERSION="${BIFROST_TELEGRAF_VERSION:-v1.37.0}"
peers_dir="${BIFROST_PEERS_DIR:-$HOME/.cache/bifrost-peers}"
tags="custom,inputs.http_listener_v2,outputs.mqtt,outputs.influxdb,outputs.influxdb_v2,parsers.influx,parsers.json,serializers.json,serializers.influx"

# shellcheck source=lib/go.sh
source "$(dirname "$0")/lib/go.sh"
go_install_once telegraf github.com/influxdata/telegraf/cmd/telegraf "$TELEGRAF_VERSION" "$peers_dir/bin/telegraf" "$tags"
