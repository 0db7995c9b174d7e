"""Kedro settings: project hooks and the configuration loader."""

from kedro.config import OmegaConfigLoader

from cxrinit.hooks import MlflowTrackingHook

HOOKS = (MlflowTrackingHook(),)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
