"""Wiring of the ``finetuning`` pipeline: one namespace per cell (``--namespaces vindr.dinov2``; ``vindr``: all).

The cells are every initialization the configuration can name (the built-in ones and any extra
``finetuning.registry`` entry in conf/*/parameters_finetuning.yml) times every source; the
parameters decide which of them train (``finetuning.inits``, ``finetuning.sources``).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from kedro.framework.project import settings
from kedro.pipeline import Node, Pipeline

from cxrinit.demo.tree import DEMO_SOURCES
from cxrinit.models import BUILTIN_INITS
from cxrinit.pipelines.bind import bind
from cxrinit.pipelines.finetuning.nodes import finetune
from cxrinit.pipelines.pretraining.pipeline import TARGETS


def configured_inits(conf: Path | None = None) -> list[str]:
    """Built-in initializations plus those added under ``finetuning.registry`` in any environment."""
    conf = Path(conf or settings.CONF_SOURCE)
    names = list(BUILTIN_INITS)
    for path in sorted(conf.glob("*/parameters_finetuning.yml")):
        params = yaml.safe_load(path.read_text()) or {}
        names += [n for n in ((params.get("finetuning") or {}).get("registry") or {}) if n not in names]
    return names


def cells() -> list[tuple[str, str]]:
    """Every (init, source) cell; the MIMIC initialization is not fine-tuned on MIMIC itself (as in the study)."""
    return [(init, source) for init in configured_inits() for source in DEMO_SOURCES
            if init != "mimic" or source in TARGETS]


def create_pipeline(**kwargs) -> Pipeline:
    nodes = []
    for init, source in cells():
        inputs = {"images": f"{source}.images", "labels": f"{source}.labels", "splits": f"{source}.splits",
                  "ontology": "label_ontology", "finetuning": "params:finetuning"}
        if init == "mimic":
            inputs["mimic_init"] = f"mimic_init.{source}"
        func = bind(finetune, init=init, source=source)
        nodes.append(Node(func, inputs=inputs, outputs=[f"{source}.{init}.predictions", f"{source}.{init}.card"],
                          name="finetune", namespace=f"{source}.{init}"))
    return Pipeline(nodes)
