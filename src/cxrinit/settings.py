"""Kedro settings: the project's context (validated settings, the study layout), hooks and configuration loader."""

from kedro.config import OmegaConfigLoader

from cxrinit.context import ProjectContext
from cxrinit.hooks import ProjectHooks

CONTEXT_CLASS = ProjectContext
HOOKS = (ProjectHooks(),)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # labels.yml (the label ontology, under `labels:`) is part of the parameters, so an environment can
    # add a dataset's labels in its own labels.yml.
    "config_patterns": {"parameters": ["parameters*", "parameters*/**", "**/parameters*", "labels*"]},
    # An environment (demo, local) overrides single keys of base's parameters and globals, not whole blocks.
    "merge_strategy": {"parameters": "soft", "globals": "soft"},
}
