"""The environment's globals (conf/*/globals.yml): where its data live and where each source's download is."""

from __future__ import annotations

from pydantic import Field

from .base import Settings


class GlobalsSettings(Settings):
    """``data_dir``: the folder of the data layers (every catalog path and checkpoint; the demo
    environment's is ``data/demo``). ``raw_roots``: each source's native download folder (None: not
    on this machine); a name that is not a configured source is an error (a typo would otherwise
    leave the source without a root). ``synthetic_data``: the environment's data are the generated
    demo (every output then says so: :mod:`cxrinit.provenance`).
    """

    data_dir: str = "data"
    raw_roots: dict[str, str | None] = Field(default_factory=dict)
    synthetic_data: bool = False


__all__ = ["GlobalsSettings"]
