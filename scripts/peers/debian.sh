#!/usr/bin/env bash
# Installs the Debian packages of the native peers: Mosquitto (+ clients), PostgreSQL, InfluxDB 1.x,
# RabbitMQ, OpenSSL, and TimescaleDB when the configured apt sources have it. Idempotent: installs
# only what is missing. Tests start their own instances on random loopback ports, so the system
# services these packages ship are kept from starting (policy-rc.d during the install) and stopped
# and disabled if they run anyway.
set -euo pipefail

if ! command -v apt-get >/dev/null; then
  echo "[debian] not a Debian/Ubuntu system: install mosquitto, postgresql, influxdb 1.x, rabbitmq-server and openssl yourself" >&2
  exit 0
fi

packages=(mosquitto mosquitto-clients postgresql influxdb rabbitmq-server openssl)
services=(mosquitto postgresql influxdb rabbitmq-server)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
has_candidate() { apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [^(]'; }

# TimescaleDB is packaged per PostgreSQL major: Debian's name, then Timescale's own repository's.
pg_major="$(apt-cache policy postgresql 2>/dev/null | sed -n 's/.*Candidate: \([0-9]*\)+.*/\1/p')"
if [ -n "$pg_major" ]; then
  for ts in "postgresql-$pg_major-timescaledb" "timescaledb-2-postgresql-$pg_major"; do
    if installed "$ts" || has_candidate "$ts"; then packages+=("$ts"); break; fi
  done
fi

missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done

if [ ${#missing[@]} -eq 0 ]; then
  echo "[debian] already installed: ${packages[*]}"
else
  if [ "$(id -u)" != 0 ]; then
    echo "[debian] missing packages: ${missing[*]}; run as root or: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  # Keep the packages' services from starting during the install (exit 101 = "not allowed").
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    own_policy=1
  fi
  trap '[ "$own_policy" = 1 ] && rm -f "$policy"' EXIT
  echo "[debian] installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Whatever started anyway (an earlier install without policy-rc.d, systemd presets) is stopped and disabled.
for s in "${services[@]}"; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$s" 2>/dev/null; then
    systemctl disable --now "$s" >/dev/null 2>&1 || true
  elif command -v service >/dev/null && service "$s" status >/dev/null 2>&1; then
    service "$s" stop >/dev/null 2>&1 || true
    command -v update-rc.d >/dev/null && update-rc.d "$s" disable >/dev/null 2>&1 || true
  fi
done
echo "[debian] ready"
