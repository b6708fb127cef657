#!/usr/bin/env bash
# Installs everything the trainer and its tests need on a fresh Debian machine (idempotent; safe to re-run).
# Debian packages: espeak-ng (pyttsx3's voice), chromium + chromium-driver (browser tests, local UI checks).
# Python: a venv in .venv with the pinned requirements and this project in editable mode.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(espeak-ng chromium chromium-driver)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "install: apt packages ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "install: creating .venv with $($PYTHON --version)" >&2
    "$PYTHON" -m venv .venv
fi
pip_install() {
    local log
    log=$(mktemp)
    if ! .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "install: pip install $* failed" >&2
        exit 1
    fi
    rm -f "$log"
}
pip_install -r requirements.txt
pip_install --no-deps -e .
.venv/bin/python -c "import mediapipe, cv2, zmq, xgboost, sklearn, pyttsx3, flask, playwright" \
    || { echo "install: the venv is incomplete (see pip's messages above)" >&2; exit 1; }
echo "install: ready (.venv/bin/fitness-trainer)" >&2
