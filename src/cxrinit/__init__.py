"""cxrinit: which initialization makes the best chest-radiograph ViT — the study, end to end."""

import os

# MLflow otherwise gives its loggers their own handler, format and propagate=False on import: its
# lines would break the one-format console and never reach logs/<session>.log (conf/logging.yml
# configures them like every other library). A user's own setting wins.
os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
