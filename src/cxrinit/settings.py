"""Kedro settings: project hooks and the configuration loader."""

from kedro.config import OmegaConfigLoader

from cxrinit.hooks import MlflowTrackingHook

HOOKS = (MlflowTrackingHook(),)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment (demo, local) overrides single keys of base's parameters and globals, not whole blocks.
    "merge_strategy": {"parameters": "soft", "globals": "soft"},
}
