#!/usr/bin/env bash
# The one install command for a fresh clone: npm packages (and the bundle), the Python venv for
# training and evaluation, and what the VS Code tests need (Chromium, code-server in a cache).
# Idempotent; needs only the npm, PyPI and Debian registries.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "== npm packages" >&2
npm ci --no-audit --no-fund
node esbuild.mjs --quiet
echo "== Python venv (training/.venv)" >&2
bash training/setup.sh
echo "== VS Code test dependencies" >&2
bash scripts/install-test-deps.sh
echo "setup done" >&2
