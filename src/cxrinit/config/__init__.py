"""Typed settings: one pydantic model per pipeline's parameter block, validated before anything runs.

Each model declares its keys, types, allowed values and defaults once; an unknown key, a wrong type
or an impossible value is a :class:`ConfigError` naming the key, where it came from and the closest
valid key. Nodes receive these models (Kedro builds them from ``params:<block>`` through the nodes'
type hints); :func:`validate_parameters` checks every block and the names that span blocks.
"""

from .base import ConfigError, Settings
from .demo import DemoSettings, DemoSourceSettings, demo_disabled_message
from .evaluation import EvaluationSettings
from .harmonization import HarmonizationSettings
from .ingestion import IngestionSettings
from .labels import LabelSettings
from .origins import ConfigOrigins
from .project import PRETRAINED_INIT, ProjectSettings, validate_parameters
from .selfsupervised import SSL_INIT, SelfSupervisedSettings
from .sources import SourceSettings
from .training import FinetuningSettings, PretrainingSettings, TrainingSettings

__all__ = [
    "PRETRAINED_INIT", "ConfigError", "ConfigOrigins", "DemoSettings", "DemoSourceSettings", "EvaluationSettings",
    "FinetuningSettings", "HarmonizationSettings", "IngestionSettings", "LabelSettings", "PretrainingSettings",
    "ProjectSettings", "SSL_INIT", "SelfSupervisedSettings", "Settings", "SourceSettings", "TrainingSettings", "demo_disabled_message",
    "validate_parameters",
]
