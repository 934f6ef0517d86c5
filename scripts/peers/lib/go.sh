# Sourced by the peer scripts that build Go tools. `ensure_go LABEL` puts Go on PATH (or
# /usr/local/go/bin), installing Debian's golang-go as root when there is none.
ensure_go() {
  export PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go >/dev/null
  else
    echo "[$1] needs Go on PATH (Debian: apt-get install golang-go)" >&2
    exit 1
  fi
}

# `go_install_once LABEL PACKAGE VERSION BIN [TAGS]`: builds PACKAGE@VERSION from the Go module proxy
# with `go install` (build tags TAGS, comma-separated, when given) into BIN, unless BIN was already
# built for VERSION and TAGS (a stamp file beside it).
go_install_once() {
  local label="$1" pkg="$2" version="$3" bin="$4" tags="${5:-}"
  local dir name stamp tmp
  dir="$(dirname "$bin")"
  name="$(basename "$bin")"
  stamp="$dir/.$name-$version${tags:+-$(printf '%s' "$tags" | cksum | cut -d' ' -f1)}"
  if [ -x "$bin" ] && [ -f "$stamp" ]; then
    echo "[$label] $pkg@$version already in $bin"
    return 0
  fi
  ensure_go "$label"
  mkdir -p "$dir"
  echo "[$label] building $pkg@$version (once)"
  tmp="$(mktemp -d)"
  GOBIN="$tmp" GOFLAGS=-buildvcs=false go install -trimpath ${tags:+-tags "$tags"} "$pkg@$version"
  mv "$tmp/$(basename "$pkg")" "$bin"
  rm -rf "$tmp"
  rm -f "$dir/.$name-"*
  touch "$stamp"
  echo "[$label] ready: $bin"
}
