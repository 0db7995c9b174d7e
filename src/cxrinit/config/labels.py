"""``labels``: the label ontology (conf/base/labels.yml, overridable per environment), validated."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from cxrinit.labels.ontology import Ontology, ontology_from_dict


class LabelSettings(BaseModel):
    """``params:labels``: the parsed labels.yml as an :class:`~cxrinit.labels.Ontology`.

    The raw mapping is validated by :func:`~cxrinit.labels.ontology_from_dict` (errors name the YAML
    key path).
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    ontology: Ontology

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if isinstance(data, Ontology):
            return {"ontology": data}
        if isinstance(data, dict) and isinstance(data.get("ontology"), Ontology):
            return data
        return {"ontology": ontology_from_dict(data or {}, origin="labels.yml")}


__all__ = ["LabelSettings"]
