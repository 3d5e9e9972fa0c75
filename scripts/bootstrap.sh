#!/usr/bin/env bash
# Find a Python >= 3.12, create .venv and install the pinned dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
    local candidates=(python3.13 python3.12 python3)
    local c
    for c in "${candidates[@]}"; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
            command -v "$c"; return 0
        fi
    done
    local root="${PYENV_ROOT:-$HOME/.pyenv}"
    for c in "$root"/versions/3.13*/bin/python3 "$root"/versions/3.12*/bin/python3; do
        if [ -x "$c" ] && "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
            echo "$c"; return 0
        fi
    done
    return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    if ! PYTHON="$(find_python)"; then
        echo "buttress needs Python 3.12 or newer: none of python3.13, python3.12, python3 or" >&2
        echo "\$PYENV_ROOT/versions/3.1[23]* is new enough. Install one and run make again." >&2
        exit 1
    fi
    echo "Using $PYTHON ($("$PYTHON" --version))"
    rm -rf .venv
    "$PYTHON" -m venv .venv
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1
pip_quiet() {
    if ! .venv/bin/python -m pip install --quiet "$@" >.venv/pip.log 2>&1; then
        grep -v "^WARNING: Location" .venv/pip.log >&2
        echo "pip install failed" >&2
        exit 1
    fi
}
echo "Installing pinned dependencies into .venv"
pip_quiet --upgrade "pip>=24" "setuptools>=75"
pip_quiet --constraint requirements.lock --editable ".[dev]"
.venv/bin/python -c 'import importlib.util as u, sys; sys.exit(0 if all(u.find_spec(m) for m in ("buttress", "django", "ninja", "pytest", "playwright")) else 1)' || { echo "dependency install failed" >&2; exit 1; }
touch .venv/.installed
