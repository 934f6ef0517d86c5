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
