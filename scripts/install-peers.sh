#!/usr/bin/env bash
# Installs the real peers the integration tests run against (idempotent; safe to run again).
# Each peer has its own script in scripts/peers/; run one alone with `bash scripts/peers/<name>.sh`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export BIFROST_PEERS_DIR="${BIFROST_PEERS_DIR:-$HOME/.cache/bifrost-peers}"
mkdir -p "$BIFROST_PEERS_DIR"

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  stamp="$BIFROST_PEERS_DIR/.apt-updated"
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
    apt-get update -qq && touch "$stamp"
  fi
fi

for script in "$here"/peers/*.sh; do
  [ -e "$script" ] || continue
  echo "[install-peers] $(basename "$script" .sh)"
  bash "$script"
done
