# Sourced by the serving e2e tests: starts `tinmoi run` on a copy of the
# bundled demo with its HTTP server on a free loopback port, waits until it
# serves, and stops it (SIGTERM, must exit 0) when the test exits.
# Sets: work, conf, port, base (http://127.0.0.1:PORT), daemon_pid.

: "${TINMOI_BIN:?}" "${TINMOI_SRC:?}"

fail() {
    echo "FAIL: $*"
    [ -n "${work:-}" ] && [ -f "$work/daemon.log" ] && { echo "--- daemon log"; tail -n 30 "$work/daemon.log"; }
    exit 1
}

# `tinmoi run` is issue 4's; without it there is nothing to serve from.
if ! "$TINMOI_BIN" --help 2>&1 | grep -qw run; then
    echo "SKIP: $TINMOI_BIN has no 'run' command (issue 4 not built in)"
    exit 0
fi

work=$(mktemp -d /tmp/tinmoi-e2e-serve.XXXXXX)
daemon_pid=
stop_daemon() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid"
        wait "$daemon_pid" || true
    fi
    daemon_pid=
}
trap 'stop_daemon; rm -rf "$work"' EXIT

cp -r "$TINMOI_SRC/feeds" "$work/feeds"
mkdir "$work/state" "$work/out"
conf="$work/feeds/tinmoi.conf"
# The config wants a real port: ask the kernel for a free one.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s|^listen.*|listen = 127.0.0.1:$port|; s|^public_url.*|public_url = http://127.0.0.1:$port/|" "$conf"
base="http://127.0.0.1:$port"

"$TINMOI_BIN" run -c "$conf" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
# Ready once every demo source has been fetched and published.
n_sources=$(grep -c 'xmlUrl=' "$work/feeds/sources.opml")
for _ in $(seq 1 100); do
    if [ "$(grep -c 'source .*: ok' "$work/daemon.log")" -ge "$n_sources" ] &&
        curl -sf "$base/healthz" >/dev/null 2>&1; then
        break
    fi
    kill -0 "$daemon_pid" 2>/dev/null || fail "tinmoi run exited"
    sleep 0.1
done
curl -sf "$base/healthz" >/dev/null || fail "the daemon does not serve /healthz"
# Let the coalesced publish after the last source land.
sleep 1.5
