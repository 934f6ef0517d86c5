#!/usr/bin/env bash
# Builds InfluxDB 2.7 (github.com/influxdata/influxdb/v2/cmd/influxd) from the Go module proxy into
# $BIFROST_PEERS_DIR/influxd-2.7/influxd, once: the real 2.x server (orgs, buckets, tokens) for the
# InfluxDB connector's 2.x API tests. The testkit finds it through influxdV2Binary()
# (`$BIFROST_INFLUXD_V2` overrides). Needs Go and Rust (cargo); takes several minutes the first time.
#
# Why not `go install`: the module's go.mod has a replace directive, so it must be built as the main
# module. Its query engine (Flux) links libflux, which influxdata's pkg-config wrapper builds with
# cargo. libflux pins Rust 1.72 and denies all warnings; newer compilers add lints, so the build uses
# the installed stable toolchain and drops libflux's `strict` feature (warnings stay warnings).
set -euo pipefail

version=v2.7.12
pkg_config_version=v0.2.7
peers_dir="${BIFROST_PEERS_DIR:-$HOME/.cache/bifrost-peers}"
bin="$peers_dir/influxd-2.7/influxd"
stamp="$peers_dir/influxd-2.7/.influxd-$version"

if [ -x "$bin" ] && [ -f "$stamp" ]; then
  echo "[influxdb-v2] influxd $version already in $bin"
  exit 0
fi

# shellcheck source=lib/go.sh
source "$(dirname "$0")/lib/go.sh"
ensure_go influxdb-v2
export PATH="$PATH:$HOME/.cargo/bin"
if ! command -v cargo >/dev/null; then
  echo "[influxdb-v2] needs Rust's cargo on PATH to build libflux (rustup, or Debian: apt-get install cargo)" >&2
  exit 1
fi

# A private module cache: libflux is patched in place, which must not touch the user's cache.
work="$(mktemp -d "${TMPDIR:-/tmp}/bifrost-influxd-v2.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export GOPATH="$work/gopath" GOFLAGS="-modcacherw -buildvcs=false" GOBIN="$work/bin" CARGO_HOME="$work/cargo"
if command -v rustup >/dev/null; then export RUSTUP_TOOLCHAIN=stable; fi

echo "[influxdb-v2] building influxd $version (once; several minutes)"
go install "github.com/influxdata/pkg-config@$pkg_config_version"
src="$(go mod download -json "github.com/influxdata/influxdb/v2@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
cp -r "$src" "$work/src"
chmod -R u+w "$work/src"
cd "$work/src"
flux="$(go list -m -f '{{.Dir}}' github.com/influxdata/flux 2>/dev/null || true)"
if [ -z "$flux" ]; then
  go mod download github.com/influxdata/flux
  flux="$(go list -m -f '{{.Dir}}' github.com/influxdata/flux)"
fi
sed -i 's/^default = \["strict"\]/default = []/' "$flux/libflux/flux-core/Cargo.toml"
sed -i 's/^default = \["strict", "cffi"\]/default = ["cffi"]/' "$flux/libflux/flux/Cargo.toml"
mkdir -p "$(dirname "$bin")"
PATH="$GOBIN:$PATH" go build -trimpath -o "$bin.tmp" ./cmd/influxd
mv "$bin.tmp" "$bin"
rm -f "$(dirname "$bin")"/.influxd-*
touch "$stamp"
echo "[influxdb-v2] ready: $bin"
