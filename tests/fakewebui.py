"""A fake AUTOMATIC1111-family webui for testing the extension the way a host loads it.

``make_webui(tmp_path)`` writes a temporary webui root with the stub modules the extension touches (``launch``,
``modules.script_callbacks``, ``modules.shared``, ``modules.paths``/``paths_internal``, ``modules.call_queue``,
``modules.scripts``) and ``extensions/gan-steering`` (a symlink to this repository). The stubs follow A1111 1.8 /
1.10 (reference: host-and-hub.md §1): ``load_scripts`` executes ``<ext>/scripts/*.py`` like the webui (sorted,
``spec_from_file_location(basename)``, not in ``sys.modules``, the extension root on ``sys.path`` only while the
file runs); ``build_ui`` runs the settings callbacks, renders the settings components as the settings page does,
then mounts the tabs into ``Blocks → Tabs(elem_id="tabs") → TabItem`` and asks for the config. Unlike the real
webui, callback errors are collected in ``errors`` instead of only being printed, so tests can assert on them.
"""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
EXTENSION_DIRNAME = "gan-steering"
#: Top-level module names a test may replace; the fixture restores them afterwards.
MANAGED_MODULES = ("launch", "modules", "steering", "extension", "gan_steering_core", "gan_steering_ui")
#: Packages install.py must never install or upgrade (they belong to the host).
HOST_PACKAGES = ("torch", "torchvision", "gradio", "gradio_client", "huggingface_hub", "fastapi", "pydantic", "numpy")

LAUNCH = '''
"""Stub of the webui's launch.py: is_installed as A1111, run_pip records instead of installing."""
import importlib.metadata
import importlib.util
import json
import os
import shlex
import sys
from types import SimpleNamespace

# A1111 parses sys.argv plus COMMANDLINE_ARGS in every process that imports launch, install.py's included.
_argv = sys.argv[1:] + shlex.split(os.environ.get("COMMANDLINE_ARGS", ""))
args = SimpleNamespace(skip_install="--skip-install" in _argv)
python = sys.executable


def is_installed(package):
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        try:
            spec = importlib.util.find_spec(package)
        except ModuleNotFoundError:
            return False
        return spec is not None
    return dist is not None


def run_pip(command, desc=None, live=False):
    """Record the pip command; 'install' it as an empty dist-info so that a second run sees it installed."""
    if args.skip_install:
        return None
    log = os.environ["FAKE_WEBUI_PIP_LOG"]
    with open(log, "a", encoding="utf-8") as file:
        file.write(json.dumps({"command": command, "desc": desc, "cwd": os.getcwd()}) + "\\n")
    if os.environ.get("FAKE_WEBUI_PIP_FAIL"):
        raise RuntimeError(f"Couldn't install {desc}.\\nCommand: pip {command} --prefer-binary")
    site = os.environ.get("FAKE_WEBUI_SITE")
    tokens = shlex.split(command)
    if site and tokens[:1] == ["install"]:
        for requirement in (t for t in tokens[1:] if not t.startswith("-")):
            name, version = requirement, "0"
            for operator in ("==", ">=", "~="):
                if operator in requirement:
                    name, version = requirement.split(operator, 1)
                    break
            info = os.path.join(site, name.replace("-", "_") + "-" + version + ".dist-info")
            os.makedirs(info, exist_ok=True)
            with open(os.path.join(info, "METADATA"), "w", encoding="utf-8") as file:
                file.write(f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n")
    return ""
'''

PATHS_INTERNAL = '''
"""Stub of modules/paths_internal.py (A1111 1.10 layout)."""
import os

script_path = {root!r}
data_path = script_path
models_path = os.path.join(data_path, "models")
extensions_dir = os.path.join(data_path, "extensions")
extensions_builtin_dir = os.path.join(script_path, "extensions-builtin")
default_output_dir = os.path.join(data_path, "outputs")
'''

PATHS = '''
"""Stub of modules/paths.py: re-exports paths_internal."""
from modules.paths_internal import *  # noqa: F403
'''

CALL_QUEUE = '''
"""Stub of modules/call_queue.py: the lock that serialises GPU work."""
import threading

queue_lock = threading.Lock()
'''

SHARED = '''
"""Stub of modules/shared.py: opts (add_option, defaults, saved values), OptionInfo, options_section, cmd_opts."""
from types import SimpleNamespace


class OptionInfo:
    def __init__(self, default=None, label="", component=None, component_args=None, onchange=None, section=None,
                 refresh=None, comment_before="", comment_after="", infotext=None, restrict_api=False,
                 category_id=None):
        self.default = default
        self.label = label
        self.component = component
        self.component_args = component_args
        self.onchange = onchange
        self.section = section
        self.refresh = refresh
        self.comment_before = comment_before
        self.comment_after = comment_after
        self.infotext = infotext
        self.restrict_api = restrict_api
        self.category_id = category_id
        self.do_not_save = False
        self.reload_ui = False
        self.restart = False

    def info(self, info):
        self.comment_after += f"<span class='info'>({info})</span>"
        return self

    def needs_reload_ui(self):
        self.reload_ui = True
        return self

    def needs_restart(self):
        self.restart = True
        return self


def options_section(section_identifier, options_dict):
    for value in options_dict.values():
        value.section = section_identifier
    return options_dict


class Options:
    def __init__(self, saved=None):
        super().__setattr__("data_labels", {})
        super().__setattr__("data", dict(saved or {}))

    def add_option(self, key, info):
        self.data_labels[key] = info
        if key not in self.data and not info.do_not_save:
            self.data[key] = info.default

    def __getattr__(self, item):
        if item in self.data:
            return self.data[item]
        if item in self.data_labels:
            return self.data_labels[item].default
        raise AttributeError(item)

    def __setattr__(self, key, value):
        self.data[key] = value

    def reorder(self):
        pass


opts = Options({"outdir_samples": ""})
cmd_opts = SimpleNamespace(hide_ui_dir_config=False, nowebui=False, device_id=None, skip_install=False)
state = SimpleNamespace(interrupted=False, skipped=False, job="", job_count=0)
'''

SCRIPT_CALLBACKS = '''
"""Stub of modules/script_callbacks.py. A1111 1.8 / SD.Next: on_ui_tabs(callback); 1.9+ / Forge: name= keyword."""
import inspect
from collections import namedtuple

ScriptCallback = namedtuple("ScriptCallback", ["script", "callback", "name"])
callback_map = {"callbacks_ui_tabs": [], "callbacks_ui_settings": []}
errors = []  # unlike the real webui (which prints and goes on), keep the failures for the tests


def clear_callbacks():
    for callbacks in callback_map.values():
        callbacks.clear()


def add_callback(callbacks, fun, name=None):
    stack = [frame for frame in inspect.stack() if frame.filename != __file__]
    callbacks.append(ScriptCallback(stack[0].filename if stack else "unknown file", fun, name))


def on_ui_settings(callback{name_kw}):
    add_callback(callback_map["callbacks_ui_settings"], callback{name_arg})


def on_ui_tabs(callback{name_kw}):
    add_callback(callback_map["callbacks_ui_tabs"], callback{name_arg})


def ui_settings_callback():
    for c in callback_map["callbacks_ui_settings"]:
        try:
            c.callback()
        except Exception as error:
            errors.append(("ui_settings_callback", c.script, error))


def ui_tabs_callback():
    res = []
    for c in callback_map["callbacks_ui_tabs"]:
        try:
            res += c.callback() or []
        except Exception as error:
            errors.append(("ui_tabs_callback", c.script, error))
    return res
'''

SCRIPTS = '''
"""Stub of modules/scripts.py: load_scripts as A1111's (host-and-hub.md §1.1 step 4)."""
import importlib.util
import os
import sys

from modules import paths, script_callbacks

current_basedir = paths.script_path
loaded = []
errors = []


def basedir():
    return current_basedir


def list_scripts():
    found = []
    for dirname in sorted(os.listdir(paths.extensions_dir)):
        root = os.path.join(paths.extensions_dir, dirname)
        scripts_dir = os.path.join(root, "scripts")
        if os.path.isdir(scripts_dir):
            names = sorted(f for f in os.listdir(scripts_dir) if f.endswith(".py"))
            found += [(root, os.path.join(scripts_dir, name)) for name in names]
    return found


def load_module(path):
    module_spec = importlib.util.spec_from_file_location(os.path.basename(path), path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def load_scripts():
    global current_basedir
    script_callbacks.clear_callbacks()
    loaded.clear()
    errors.clear()
    syspath = sys.path
    for root, path in list_scripts():
        try:
            if root != paths.script_path:
                sys.path = [root] + sys.path
            current_basedir = root
            loaded.append(load_module(path))
        except Exception as error:
            errors.append((path, error))
        finally:
            sys.path = syspath
            current_basedir = paths.script_path
'''


@dataclass
class MountedUI:
    """What ``build_ui`` produced: the demo, the tabs as returned by the callbacks, the settings components."""

    demo: Any
    tabs: list[tuple[Any, str, str]]
    settings_components: dict[str, Any]
    config: dict[str, Any]


@dataclass
class FakeWebui:
    """A temporary webui root; ``activate`` puts its stubs on ``sys.path``."""

    root: Path
    extensions: Path
    tabs_name_kw: bool

    @property
    def ext_dir(self) -> Path:
        return self.extensions / EXTENSION_DIRNAME

    def activate(self) -> None:
        """Make ``import launch`` / ``import modules…`` find this webui's stubs (as a fresh process would)."""
        for name in [n for n in sys.modules if n.split(".")[0] in ("launch", "modules")]:
            del sys.modules[name]
        sys.path.insert(0, str(self.root))
        importlib.invalidate_caches()

    def module(self, name: str) -> ModuleType:
        return importlib.import_module(name)

    def load_scripts(self) -> list[ModuleType]:
        """``modules.scripts.load_scripts()``: what the webui does at start and on "Reload UI"."""
        scripts = self.module("modules.scripts")
        scripts.load_scripts()
        if scripts.errors:
            raise AssertionError(f"scripts failed to load: {scripts.errors}")
        return list(scripts.loaded)

    def build_ui(self) -> MountedUI:
        """Settings callbacks + settings page, then tab callbacks mounted as ``modules/ui.py::create_ui`` does."""
        import gradio as gr

        callbacks = self.module("modules.script_callbacks")
        shared = self.module("modules.shared")
        callbacks.errors.clear()
        callbacks.ui_settings_callback()
        shared.opts.reorder()
        settings_components: dict[str, Any] = {}
        with gr.Blocks(analytics_enabled=False) as settings_page:
            for key, info in shared.opts.data_labels.items():
                args = info.component_args() if callable(info.component_args) else info.component_args
                component = info.component or gr.Textbox
                value = getattr(shared.opts, key)
                settings_components[key] = component(
                    label=info.label, value=value, elem_id=f"setting_{key}", **(args or {})
                )
        settings_page.get_config_file()
        tabs = callbacks.ui_tabs_callback()
        if callbacks.errors:
            raise AssertionError(f"callbacks failed: {callbacks.errors}")
        with gr.Blocks(analytics_enabled=False) as demo, gr.Tabs(elem_id="tabs"):
            for interface, title, elem_id in tabs:
                with gr.TabItem(title, id=elem_id, elem_id=f"tab_{elem_id}"):
                    interface.render()
        return MountedUI(demo, tabs, settings_components, demo.get_config_file())

    def add_extension(self, dirname: str, files: dict[str, str]) -> Path:
        """Another extension folder with the given files (path relative to its root -> source)."""
        root = self.extensions / dirname
        for relative, source in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source), encoding="utf-8")
        return root


def make_webui(base: Path, *, tabs_name_kw: bool = True, source: Path = REPO_ROOT) -> FakeWebui:
    """Write a fake webui root under ``base`` with ``source`` (this repository) as ``extensions/gan-steering``."""
    root = base / "webui"
    modules = root / "modules"
    modules.mkdir(parents=True)
    (root / "models").mkdir()
    extensions = root / "extensions"
    extensions.mkdir()
    (extensions / EXTENSION_DIRNAME).symlink_to(source, target_is_directory=True)
    name_kw, name_arg = (", *, name=None", ", name") if tabs_name_kw else ("", "")
    stubs = {
        root / "launch.py": LAUNCH,
        modules / "__init__.py": "",
        modules / "paths_internal.py": PATHS_INTERNAL.format(root=str(root)),
        modules / "paths.py": PATHS,
        modules / "call_queue.py": CALL_QUEUE,
        modules / "shared.py": SHARED,
        modules / "script_callbacks.py": SCRIPT_CALLBACKS.replace("{name_kw}", name_kw).replace("{name_arg}", name_arg),
        modules / "scripts.py": SCRIPTS,
    }
    for path, text in stubs.items():
        path.write_text(text.lstrip(), encoding="utf-8")
    return FakeWebui(root, extensions, tabs_name_kw)


def run_env(webui: FakeWebui, pip_log: Path, **extra: str) -> dict[str, str]:
    """Environment of an installer process as A1111 starts it: ``PYTHONPATH`` = webui root first."""
    env = {k: v for k, v in os.environ.items() if k not in ("COMMANDLINE_ARGS", "PYTHONPATH")}
    env["PYTHONPATH"] = os.pathsep.join([str(webui.root), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["FAKE_WEBUI_PIP_LOG"] = str(pip_log)
    env.update(extra)
    return env
