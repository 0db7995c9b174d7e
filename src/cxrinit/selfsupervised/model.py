"""DINO's student and teacher: a backbone (timm, embedding out) with lightly's DINO projection head each."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from .config import DinoOptions


class Student(nn.Module):
    """Backbone + ``DINOProjectionHead``; views of equal size go through the backbone as one batch."""

    def __init__(self, backbone: nn.Module, embed_dim: int, opts: DinoOptions) -> None:
        super().__init__()
        from lightly.models.modules import DINOProjectionHead

        self.backbone = backbone
        self.head = DINOProjectionHead(embed_dim, opts.hidden_dim, opts.bottleneck_dim, opts.out_dim,
                                       freeze_last_layer=opts.freeze_last_layer_epochs,
                                       norm_last_layer=opts.norm_last_layer)

    def embed(self, views: list[Tensor]) -> list[Tensor]:
        """Backbone embeddings (B, D) per view, computing each run of equal-sized views in one pass."""
        out: list[Tensor] = []
        i = 0
        while i < len(views):
            j = i
            while j < len(views) and views[j].shape[-2:] == views[i].shape[-2:]:
                j += 1
            out += list(self.backbone(torch.cat(views[i:j])).chunk(j - i))
            i = j
        return out

    def forward(self, views: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """(head outputs (B, out_dim), embeddings (B, D)) per view."""
        embeddings = self.embed(views)
        return [self.head(e) for e in embeddings], embeddings


def make_teacher(student: Student, opts: DinoOptions) -> Student:
    """A frozen copy of ``student`` (updated only by EMA): same weights, no gradients. The head is built
    anew and loaded, since a weight-normalized layer cannot be deep-copied (pytorch/pytorch#103001)."""
    from lightly.models.utils import deactivate_requires_grad

    teacher = Student(copy.deepcopy(student.backbone), embedding_dim(student.backbone), opts)
    teacher.head.load_state_dict(student.head.state_dict())
    deactivate_requires_grad(teacher)
    return teacher


def embedding_dim(backbone: nn.Module) -> int:
    """The width of the backbone's pooled embedding (timm ``num_features``)."""
    dim = getattr(backbone, "num_features", None)
    if not isinstance(dim, int):
        raise ValueError(f"{type(backbone).__name__} does not say its embedding width (num_features); use a timm "
                         "backbone")
    return dim


__all__ = ["Student", "embedding_dim", "make_teacher"]
