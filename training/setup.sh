#!/usr/bin/env bash
# Creates training/.venv with the pinned Python dependencies. Idempotent: re-runs only when
# requirements.txt changed (a stamp file holds its hash).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
# torch alone first, pinned, so nothing below can swap in another build.
"$venv/bin/pip" install --quiet "$(grep -E '^torch==' "$here/requirements.txt")"
"$venv/bin/pip" install --quiet -r "$here/requirements.txt"
echo "$want" > "$stamp"
echo "training/.venv ready" >&2
