"""MLflow glue: the configuration (``mlflow.yaml``), child runs per cell, registered models, report artifacts.

Nothing else in the project imports MLflow except the inference package; the configuration reaches the
nodes explicitly (the ``tracking`` catalog dataset) and the project hook (parent runs).
"""

from .cells import track_cell
from .config import CONFIG_FILE, TrackingConfig, flatten_params, git_commit, load_config, metric_name
from .portable import absolute_artifact_uri, project_of_store, relativize_store
from .registry import register_model, takes_alias
from .runs import EpochLogger, child_run, log_evaluation, log_report
from .selfsupervised import track_ssl

__all__ = ["CONFIG_FILE", "EpochLogger", "TrackingConfig", "absolute_artifact_uri", "child_run", "flatten_params",
           "git_commit", "load_config", "log_evaluation", "log_report", "metric_name", "project_of_store", "register_model",
           "relativize_store", "takes_alias", "track_cell", "track_ssl"]
