"""gan-steering for AUTOMATIC1111-family webuis (A1111, Forge, reForge, SD.Next): the one file the webui loads.

The webui executes this file under the name ``gan_steering.py`` without putting it in ``sys.modules``, and keeps
the extension root on ``sys.path`` only while it runs. So this file only loads our two packages under unique
aliases (``steering/`` as ``gan_steering_core``, ``extension/`` as ``gan_steering_ui``), which keeps another
extension's top-level ``steering`` or ``extension`` module from colliding with ours, and registers the callbacks.
Everything else lives in ``extension/host.py``. No dataclasses or postponed annotations here: this module is not
in ``sys.modules``.
"""

import importlib.util
import os
import sys

from modules import script_callbacks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = (("gan_steering_core", "steering"), ("gan_steering_ui", "extension"))  # core first: the UI imports it


def _same_folder(module, folder):
    """Whether an already imported alias is our package from ``folder`` (not a copy from elsewhere)."""
    locations = list(getattr(module, "__path__", None) or [])
    return bool(locations) and os.path.realpath(locations[0]) == os.path.realpath(folder)


def _forget(alias):
    """Drop ``alias`` and all its submodules from ``sys.modules``."""
    for name in [name for name in sys.modules if name == alias or name.startswith(alias + ".")]:
        del sys.modules[name]


def load_package(alias, folder):
    """Import the package in ``folder`` as ``alias``; on "Reload UI" reuse the already loaded one.

    Reuse keeps the process-level caches (loaded generators, bases) of the first load, as the webui does for every
    other imported package. A copy from another folder under the same alias is replaced.
    """
    loaded = sys.modules.get(alias)
    if loaded is not None and _same_folder(loaded, folder):
        return loaded
    _forget(alias)
    spec = importlib.util.spec_from_file_location(
        alias, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        _forget(alias)  # a failed load must not leave a half-initialised package behind for the next reload
        raise
    return module


_fresh = False
for _alias, _folder in PACKAGES:
    if _fresh:
        _forget(_alias)  # the UI holds references into the core: a freshly loaded core needs a fresh UI
    _before = sys.modules.get(_alias)
    _fresh = load_package(_alias, os.path.join(ROOT, _folder)) is not _before

_host = importlib.import_module("gan_steering_ui.host")
_host.setup()
script_callbacks.on_ui_settings(_host.on_ui_settings)
script_callbacks.on_ui_tabs(_host.on_ui_tabs)
