#!/usr/bin/env bash
# The independent players the playback tests use: ffmpeg/ffprobe and Chromium from Debian's
# packages, hls.js and dash.js from the npm registry (pinned in tests/players/package-lock.json).
# Without them those tests skip with the reason, unless GREENROOM_REQUIRE_PLAYERS=1 (CI).
set -uo pipefail
cd "$(dirname "$0")/.."

warn() {
  echo "install-test-tools: $*" >&2
  if [ "${GREENROOM_REQUIRE_PLAYERS:-}" = 1 ]; then exit 1; fi
}

missing=()
command -v ffprobe >/dev/null || missing+=(ffmpeg)
command -v chromium >/dev/null || missing+=(chromium)
# The AWS CLI (Debian's v2 build, with its own botocore: the environment's is left alone).
command -v aws >/dev/null || missing+=(awscli)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null; then
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"; } \
      || warn "could not install ${missing[*]} with apt-get"
  else
    warn "no apt-get: install ${missing[*]} yourself"
  fi
fi

if command -v npm >/dev/null; then
  (cd tests/players && npm ci --no-audit --no-fund --silent) || warn "npm ci failed in tests/players"
else
  warn "no npm: hls.js and dash.js for the browser playback tests are not installed"
fi
exit 0
