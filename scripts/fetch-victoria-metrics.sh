#!/usr/bin/env bash
# Fetches Debian trixie's `victoria-metrics` package (it ships the victoria-metrics single-node
# server and vmagent) and unpacks it into a directory of ours, for the pipeline tests in
# test/pipelines/victoriametrics.test.ts. Nothing is installed and the system's apt
# configuration is not touched: apt runs with a private sources file, state, cache and
# preferences under the destination directory, and `dpkg -x` only unpacks the archive.
#
# Usage: scripts/fetch-victoria-metrics.sh [DEST]    (default: .cache/victoria-metrics)
# Afterwards DEST/usr/bin/victoria-metrics and DEST/usr/bin/vmagent exist. A second run with
# both binaries present does nothing. Needs apt-get and dpkg (Debian or a derivative), root
# not required beyond what apt-get update needs to write DEST; no TTY.
set -euo pipefail

SUITE=trixie
PACKAGE=victoria-metrics
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/.cache/victoria-metrics}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"

if [ -x "$dest/usr/bin/victoria-metrics" ] && [ -x "$dest/usr/bin/vmagent" ]; then
  echo "victoria-metrics: cached in $dest ($(cat "$dest/VERSION" 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

for tool in apt-get dpkg dpkg-deb; do
  command -v "$tool" >/dev/null 2>&1 || { echo "victoria-metrics: $tool not found (needs a Debian system)" >&2; exit 1; }
done
[ -r "$KEYRING" ] || { echo "victoria-metrics: $KEYRING missing (Debian package debian-archive-keyring)" >&2; exit 1; }

# Debian's mirror as this machine's own apt sources name it: the first URI serving a Debian
# main suite (not -security), from deb822 .sources files or one-line sources.list entries.
mirror_from_sources() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk '
      /^[[:space:]]*$/ { if (uri != "" && suites !~ /-security/) { print uri; found = 1; exit } uri = ""; suites = ""; next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { $1 = ""; suites = $0 }
      END { if (!found && uri != "" && suites !~ /-security/) print uri }
    ' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    # deb [options] URI suite components...
    sed -n -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+([^[:space:]]+).*/\2 \3/p' "$f" |
      awk '$2 !~ /-security/ && $1 ~ /debian\/?$/ { print $1 }'
  done
}
mirror="$(mirror_from_sources | head -n 1)"
[ -n "$mirror" ] || { echo "victoria-metrics: no Debian mirror found in /etc/apt/sources.list{,.d}" >&2; exit 1; }
mirror="${mirror%/}"

work="$dest/.apt"
rm -rf "$work"
mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/sources.list.d" "$work/preferences.d" "$work/download"
: > "$work/status"
cat > "$work/$SUITE.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE
Components: main
Signed-By: $KEYRING
EOF

# Every directory apt would read or write points into $work; only the system's apt.conf.d
# (proxy and retry settings of this machine) still applies. The private directories may sit
# where the unprivileged _apt user cannot enter, so apt downloads as the calling user.
apt_opts=(
  -q
  -o "Dir::State=$work"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::State::status=$work/status"
  -o "Dir::Cache=$work"
  -o "Dir::Cache::archives=$work/archives"
  -o "Dir::Cache::pkgcache="
  -o "Dir::Cache::srcpkgcache="
  -o "Dir::Etc::sourcelist=$work/$SUITE.sources"
  -o "Dir::Etc::sourceparts=$work/sources.list.d"
  -o "Dir::Etc::preferences=$work/preferences"
  -o "Dir::Etc::preferencesparts=$work/preferences.d"
  -o "APT::Sandbox::User=$(id -un)"
  -o "Acquire::Retries=3"
  -o "Acquire::Languages=none"
)

echo "victoria-metrics: apt-get update ($mirror $SUITE, private state in $work)"
timeout 600 apt-get "${apt_opts[@]}" update >"$work/update.log" 2>&1 || { cat "$work/update.log" >&2; echo "victoria-metrics: apt-get update failed" >&2; exit 1; }
(cd "$work/download" && timeout 600 apt-get "${apt_opts[@]}" download "$PACKAGE") >"$work/download.log" 2>&1 ||
  { cat "$work/download.log" >&2; echo "victoria-metrics: apt-get download $PACKAGE failed" >&2; exit 1; }

deb="$(ls "$work/download/${PACKAGE}"_*.deb)"
version="$(dpkg-deb --field "$deb" Version)"
dpkg -x "$deb" "$work/unpacked"
mkdir -p "$dest/usr/bin"
for bin in victoria-metrics vmagent; do
  install -m 0755 "$work/unpacked/usr/bin/$bin" "$dest/usr/bin/$bin"
done
echo "$PACKAGE $version ($SUITE)" > "$dest/VERSION"
# The lists and the .deb are only needed to get here; the binaries are what is cached.
rm -rf "$work"
echo "victoria-metrics: $PACKAGE $version unpacked into $dest/usr/bin"
