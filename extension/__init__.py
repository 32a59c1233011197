"""Gradio UI of gan-steering, shared by the webui extension and the Space.

Inside a webui this package is loaded under the alias ``gan_steering_ui`` and the core under ``gan_steering_core``;
every import between UI modules is therefore relative, and the core is reached only through ``extension.core``.
"""
