"""Worker functions for the pool tests, in a module of their own: each spawned worker imports only this
(and the decoder package), not the whole test module with its fixtures and heavy imports."""

from __future__ import annotations

import os

from cxrinit.imaging.process import ProcessedImage
from cxrinit.imaging.reasons import Status


def noop_init(*args: object) -> None:
    pass


def crash_on_boom(chunk: list[tuple[int, str]]) -> list[tuple[int, ProcessedImage]]:
    out = []
    for row, payload in chunk:
        if payload == "boom":
            os._exit(3)  # what a segfaulting native decoder looks like from the parent
        if payload == "bug":
            raise ZeroDivisionError("a bug in our code")
        out.append((row, ProcessedImage(Status.OK, payload)))
    return out


def died(row: int, payload: str) -> ProcessedImage:
    return ProcessedImage(Status.DECODE_ERROR, f"{payload}: process died")
