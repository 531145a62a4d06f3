#!/usr/bin/env bash
# Installs what the in-editor suite, the e2e run and `npm run demo` need, outside the repo:
#   - Debian chromium + ripgrep (apt), only if missing
#   - code-server 4.100.3 (= VS Code 1.100.3) into ${MATH_TUTOR_CODE_SERVER_DIR:-$XDG_CACHE_HOME/math-tutor-test/code-server}
# Idempotent: a second run with everything present does nothing but print the paths.
# Two offline workarounds (docs: shared guide vscode-e2e.md):
#   1. @vscode/ripgrep downloads rg from GitHub in postinstall -> seed its cache with Debian's rg.
#   2. node-pty runs `npx node-gyp` and the machine's npmrc says yes=false -> npm_config_yes=true.
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/math-tutor-test"
DEST="${MATH_TUTOR_CODE_SERVER_DIR:-$CACHE_ROOT/code-server}"
BIN="$DEST/node_modules/code-server/out/node/entry.js"

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v rg >/dev/null 2>&1 || need_apt+=(ripgrep)
# code-server's VS Code builds the `kerberos` native module at install time (no prebuilt here).
[ -f /usr/include/gssapi/gssapi.h ] || need_apt+=(libkrb5-dev)
# ...and node-pty, spdlog and friends with node-gyp.
{ command -v make && command -v g++ && command -v python3; } >/dev/null 2>&1 || need_apt+=(build-essential python3)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-test-deps: apt-get install ${need_apt[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need_apt[@]}"
fi

installed_version() {
  node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch{}' \
    "$DEST/node_modules/code-server/package.json" 2>/dev/null || true
}

if [ -f "$BIN" ] && [ "$(installed_version)" = "$CODE_SERVER_VERSION" ]; then
  echo "install-test-deps: code-server $CODE_SERVER_VERSION already in $DEST"
else
  echo "install-test-deps: installing code-server $CODE_SERVER_VERSION into $DEST (about 1 min, 300 MB)"
  mkdir -p "$DEST"
  WORK_TMP="$(mktemp -d "${TMPDIR:-/tmp}/math-tutor-cs.XXXXXX")"
  trap 'rm -rf "$WORK_TMP"' EXIT
  mkdir -p "$WORK_TMP/vscode-ripgrep-cache-1.15.11"
  tar czf "$WORK_TMP/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" \
    -C "$(dirname "$(command -v rg)")" rg
  # A private package.json so the install never touches the repo's manifest or lockfile.
  [ -f "$DEST/package.json" ] || echo '{"name":"math-tutor-code-server","private":true}' > "$DEST/package.json"
  (
    cd "$DEST"
    TMPDIR="$WORK_TMP" npm_config_yes=true \
      npm install --no-save --no-audit --no-fund --foreground-scripts --unsafe-perm \
      "code-server@$CODE_SERVER_VERSION"
  )
  [ -f "$BIN" ] || { echo "install-test-deps: code-server entry missing after install: $BIN" >&2; exit 1; }
fi
echo "install-test-deps: chromium=$(command -v chromium) rg=$(command -v rg)"
echo "install-test-deps: code-server=$BIN"
