#!/usr/bin/env bash
# One entry point for a fresh machine:  ./dev.sh run   (set up, start the app on the embedded model)
#                                        ./dev.sh test  (set up with test dependencies, run the test suite)
# Both create ./.venv on first use; later runs only install what is missing.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${VENV:-.venv}"
PY="${PYTHON:-python3}"

setup() {
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
    # shellcheck disable=SC1091
    . "$VENV/bin/activate"
    pip install -q --upgrade pip
    # torch first and pinned: an unpinned torch would pull several GB of CUDA wheels.
    pip install -q "torch==2.13.0"
    pip install -q -e ".[ui]"
    # The embedded faces model; its declared dependencies (torchvision, wandb) are not needed.
    pip install -q --no-deps "gan-face-generate==1.1.1"
}

setup_tests() {
    pip install -q "pytest>=8" "ruff>=0.5" "playwright>=1.40" "olah>=0.5"
    # Reference implementations used as test oracles, without their heavy dependencies.
    pip install -q --no-deps --no-build-isolation "basicsr==1.4.2"
    pip install -q --no-deps "pytorch-pretrained-biggan==0.1.1"
    if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser test will skip"
    fi
}

case "${1:-run}" in
    run)
        setup
        exec python spaces_app.py "${@:2}"
        ;;
    test)
        setup
        setup_tests
        ruff check .
        exec python -m pytest -q "${@:2}"
        ;;
    *)
        echo "usage: ./dev.sh run|test [args]" >&2
        exit 2
        ;;
esac
