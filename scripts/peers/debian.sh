#!/usr/bin/env bash
# Installs the Debian packages of the native peers: Mosquitto (+ clients), PostgreSQL, InfluxDB 1.x,
# RabbitMQ, OpenSSL, Chromium (the gateway's status-page test drives it headless), and TimescaleDB
# when the configured apt sources have it. Idempotent: installs
# only what is missing. Tests start their own instances on random loopback ports, so the system
# services these packages ship are kept from starting (policy-rc.d during the install), stopped if
# they run anyway, and disabled, as is the system epmd (port 4369) that RabbitMQ's tools start.
set -euo pipefail

if ! command -v apt-get >/dev/null; then
  echo "[debian] not a Debian/Ubuntu system: install mosquitto, postgresql, influxdb 1.x, rabbitmq-server, openssl and chromium yourself" >&2
  exit 0
fi

packages=(mosquitto mosquitto-clients postgresql influxdb rabbitmq-server openssl chromium)
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

# Whatever started anyway (an earlier install without policy-rc.d, systemd presets) is stopped, and
# every one of these services (and Erlang's epmd) is disabled so it does not start at boot either.
# Without systemd, RabbitMQ's init script is not asked for its status: that runs rabbitmqctl, which
# itself starts a system epmd on 0.0.0.0:4369. Its pid file tells whether the system node runs.
running() {
  if [ "$1" = rabbitmq-server ]; then
    [ -s /var/run/rabbitmq/pid ] && kill -0 "$(cat /var/run/rabbitmq/pid)" 2>/dev/null
  else
    service "$1" status >/dev/null 2>&1
  fi
}
if [ -d /run/systemd/system ]; then
  for unit in "${services[@]/%/.service}" epmd.socket epmd.service; do
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  done
elif command -v service >/dev/null; then
  for s in "${services[@]}"; do
    [ -x "/etc/init.d/$s" ] || continue
    if running "$s"; then service "$s" stop >/dev/null 2>&1 || true; fi
    if command -v update-rc.d >/dev/null; then update-rc.d "$s" disable >/dev/null 2>&1 || true; fi
  done
fi

# An epmd the package left behind: run as the rabbitmq user on the default port (tests start their
# own with -port on loopback, never touched here), stopped only when no Erlang node is registered.
if command -v epmd >/dev/null && ! env -u ERL_EPMD_PORT epmd -names 2>/dev/null | grep -q '^name '; then
  for pid in $(pgrep -x -u rabbitmq epmd || true); do
    if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- '-port'; then
      kill "$pid" 2>/dev/null && echo "[debian] stopped the system epmd (pid $pid) the rabbitmq-server package started"
    fi
  done
fi
echo "[debian] ready"
