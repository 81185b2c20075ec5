#!/usr/bin/env bash
# One entry point for people and CI:
#   ./run.sh app          set up, then start the app on http://localhost:8501 (built-in model, offline)
#   ./run.sh test [ARGS]  set up, then run the test suite (ARGS go to pytest)
#   ./run.sh explain ...  set up, then the command line (python -m explainers explain ...)
#   ./run.sh setup        only create .venv and install everything (idempotent)
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed" want
  want="$(cat requirements*.txt | sha256sum | cut -c1-16)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r requirements-dev.txt
    echo "$want" > "$stamp"
  fi
}

cmd="${1:-}"
shift || true
case "$cmd" in
  setup) setup ;;
  app) setup; exec "$VENV/bin/python" -m streamlit run app.py "$@" ;;
  test) setup; exec "$VENV/bin/python" -m pytest "$@" ;;
  explain) setup; exec "$VENV/bin/python" -m explainers explain "$@" ;;
  *) echo "usage: ./run.sh app | test [pytest args] | explain --text '...' [options] | setup" >&2; exit 2 ;;
esac
