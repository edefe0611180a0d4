#!/bin/bash
# Installation (issue 4 item 5): `cmake --install` of the build into a
# DESTDIR puts the program, the systemd unit, /etc/tinmoi (config and
# example source list) and tinmoi(8) where the unit and the man page say,
# and the unit's own commands work on what was installed: every Exec*=
# program exists, and ExecStartPre= (`tinmoi check -c CONF`) passes on the
# installed config. Nothing is started: the example source list names real
# hosts, and tests only ever talk to loopback.
set -euo pipefail
: "${TINMOI_BIN:?}" "${TINMOI_SRC:?}" "${TINMOI_BUILD:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest="$tmp/dest"

DESTDIR="$dest" cmake --install "$TINMOI_BUILD" >"$tmp/install.log" 2>&1 \
  || { echo "FAIL: cmake --install:"; cat "$tmp/install.log"; exit 1; }
sed -n 's/^-- Installing: //p' "$tmp/install.log" | sed "s|^$dest||" | sort >"$tmp/files"
echo "installed:"; sed 's/^/  /' "$tmp/files"

want() { # want PATTERN WHAT: exactly one installed file matches
  local n
  n=$(grep -c -- "$1" "$tmp/files" || true)
  [ "$n" = 1 ] || { echo "FAIL: $2: $n files match $1"; exit 1; }
  echo "ok   $2: $(grep -- "$1" "$tmp/files")"
}
want '/bin/tinmoi$' "program"
want '/systemd/system/tinmoi\.service$' "systemd unit"
want '/etc/tinmoi/tinmoi\.conf$' "config"
want '/etc/tinmoi/sources\.opml$' "example source list"
want '/man/man8/tinmoi\.8$' "man page"

unit="$dest$(grep '/tinmoi\.service$' "$tmp/files")"
# Every Exec*= program of the unit is installed (or, /bin/kill, the system's).
for exe in $(sed -n 's/^Exec[A-Za-z]*=\([^ ]*\).*/\1/p' "$unit" | sort -u); do
  if [ -x "$dest$exe" ]; then
    echo "ok   $exe installed"
  elif [ -x "$exe" ] && [ "$exe" = /bin/kill ]; then
    echo "ok   $exe from the system"
  else
    echo "FAIL: the unit runs $exe, which is not installed"; exit 1
  fi
done
# ExecStartPre= as the unit runs it, with the installed paths.
pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
read -r -a argv <<<"$pre"
argv[0]="$dest${argv[0]}"
for i in "${!argv[@]}"; do
  case "${argv[$i]}" in /*.conf) argv[$i]="$dest${argv[$i]}" ;; esac
done
out=$("${argv[@]}" 2>&1) || { echo "FAIL: ExecStartPre ${argv[*]}: $out"; exit 1; }
echo "ok   ExecStartPre: $out"
"$dest$(grep '/bin/tinmoi$' "$tmp/files")" --version | grep -q '^tinmoi ' \
  || { echo "FAIL: installed tinmoi --version"; exit 1; }
echo "ok   installed tinmoi --version"
# The man page is a man page.
head -5 "$dest$(grep '/man8/tinmoi\.8$' "$tmp/files")" | grep -q '^\.TH TINMOI 8' \
  || { echo "FAIL: tinmoi.8 has no .TH TINMOI 8 header"; exit 1; }
echo "ok   tinmoi(8)"
