"""Kedro settings: the project's context (validated settings, the study layout), hooks and configuration loader."""

import warnings

from kedro.config import OmegaConfigLoader

from cxrinit.context import ProjectContext
from cxrinit.hooks import ProjectHooks

# Kedro's own namespacing gives every per-source dataset a dotted name (vindr.manifest); its warning about
# dots in dataset names would be printed once per node of every run.
warnings.filterwarnings("ignore", message=r"One or more dataset names contain '\.'", category=UserWarning)

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
