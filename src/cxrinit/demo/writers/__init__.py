"""The six native-format demo writers.

Each module exposes ``plan(specs, seed, n_broken=4, *, scale=1.0) -> DataFrame`` (every id,
path, label, acquisition choice and broken file, no pixels: the demo's answer key) and
``write(plan, specs, root, render, workers=1)`` (the files, laid out as the real download).
"""

from cxrinit.demo.writers import chexpert, mimic, nih, padchest, uka, vindr
from cxrinit.demo.writers.acquisition import Renderer
from cxrinit.demo.writers.common import BROKEN_KINDS, PLAN_COLUMNS

WRITERS = {"vindr": vindr, "nih": nih, "chexpert": chexpert, "mimic": mimic, "uka": uka, "padchest": padchest}

__all__ = ["BROKEN_KINDS", "PLAN_COLUMNS", "WRITERS", "Renderer"]
