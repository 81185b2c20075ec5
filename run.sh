#!/usr/bin/env bash
# One entry point for people and CI:
#   ./run.sh app          set up, then start the app on http://localhost:8501 (built-in model, offline)
#   ./run.sh test [ARGS]  set up, then run the test suite (ARGS go to pytest)
#   ./run.sh lint         set up, then ruff check . (configured in pyproject.toml)
#   ./run.sh explain ...  set up, then the command line (python -m explainers explain ...)
#   ./run.sh setup        only create .venv and install everything (idempotent), the project itself
#                         editable (.venv/bin/explainers)
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed" want
  want="$(cat requirements*.txt pyproject.toml | sha256sum | cut -c1-16)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -x "$VENV/bin/explainers" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r requirements-dev.txt
    # the project itself, editable: its dependencies are the pins above, setuptools is pinned there too
    # (setuptools warns on every editable install; its output is shown only when the install fails)
    local log
    if ! log="$("$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e . 2>&1)"; then
      echo "$log" >&2
      exit 1
    fi
    echo "$want" > "$stamp"
  fi
}

cmd="${1:-}"
shift || true
case "$cmd" in
  setup) setup ;;
  app) setup; exec "$VENV/bin/python" -m studio "$@" ;;
  test) setup; exec "$VENV/bin/python" -m pytest "$@" ;;
  lint) setup; exec "$VENV/bin/ruff" check . "$@" ;;
  explain) setup; exec "$VENV/bin/python" -m explainers explain "$@" ;;
  *) echo "usage: ./run.sh app | test [pytest args] | lint [ruff args] | explain --text '...' [options] | setup" >&2; exit 2 ;;
esac
