"""Configuration: the home directory, the layered config files and the typed settings they produce.

Import the submodules directly (``codeward.config.load``, ``codeward.config.model``); this package
re-exports nothing so that importing the settings model stays cheap.
"""
