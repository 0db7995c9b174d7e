"""Nodes of the ``selfsupervised`` pipeline: which unlabeled images, checked for leakage, then DINO."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import DatasetError

from cxrinit.config import IngestionSettings, LabelSettings, SelfSupervisedSettings
from cxrinit.datasets import StoreSet
from cxrinit.labels import LeakageError
from cxrinit.models import WeightsUnavailable
from cxrinit.pipelines.cells import skipped
from cxrinit.provenance import Provenance
from cxrinit.tracking import TrackingConfig

STAGE = "selfsupervised"
#: Namespace of the self-supervised stage and the folder of its outputs under ``models_dir``.
NAMESPACE = "ssl_init"
#: Files of a folder of unlabeled images that are read (the decoders' formats).
IMAGE_SUFFIXES = (".dcm", ".dicom", ".png", ".jpg", ".jpeg")
log = logging.getLogger(__name__)


def folder_rows(folder: Path, out: Path, ingestion: IngestionSettings, size: int) -> tuple[Any, pd.DataFrame, dict[str, int]]:
    """Decode every image under ``folder`` (any depth) into its own pixel store at ``out`` with the
    ingestion recipe; returns its usable rows, its index (with ``source_blake3``, the BLAKE3 hash of each
    file's bytes, and ``file``, the path in the folder) and what was not usable. A folder whose files
    changed (added, removed, replaced) gets its store decoded again; a store of store version 2 (SHA-256
    hashes) is re-hashed with BLAKE3 like an ingestion store (nothing decoded again), and one that cannot
    be (a file unreadable now, an unknown store version) is decoded again too: the store follows the folder."""
    from cxrinit.imaging.store import PixelStore, StoreMismatchError, build_store
    from cxrinit.selfsupervised import store_rows

    found = sorted((p.relative_to(folder).as_posix(), p.stat()) for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise FileNotFoundError(f"selfsupervised.folders: {folder} holds no image ({', '.join(IMAGE_SUFFIXES)}); "
                                "point it at a folder of radiographs or remove it")
    files = [name for name, _ in found]
    # a file replaced under the same name is another image: its id carries its size and modification time
    ids = [f"{name}@{st.st_size}-{st.st_mtime_ns}" for name, st in found]
    items = pd.DataFrame({"image_id": ids, "path": files})
    options = {"sizes": (size,), "recipe": ingestion.recipe, "workers": ingestion.workers}
    try:
        index = build_store(items, folder, out, **options)
    except StoreMismatchError as err:  # this stage's own store of the folder: it follows the folder
        log.info("selfsupervised: decoding %s again into its pixel store %s: %s", folder, out,
                 _rebuild_reason(out, err))
        index = build_store(items, folder, out, overwrite=True, **options)
    index = index.assign(file=index["image_id"].str.rsplit("@", n=1).str[0])
    part, dropped = store_rows(f"folder:{folder.name}", PixelStore(out / str(size)))
    return part, index, dropped


def _rebuild_reason(out: Path, err: Exception) -> str:
    """Why a folder's own pixel store is decoded again, for the log (``err``: build_store's StoreMismatchError)."""
    from cxrinit.imaging.store import FINGERPRINT, STORE_VERSION

    differs = list(getattr(err, "differs", []))
    if not differs:  # a store of version 2 whose files cannot all be read again to re-hash them, or no store
        return f"it could not be kept as it is ({err})"
    reasons = []
    if "version" in differs:
        try:
            version = json.loads((out / FINGERPRINT).read_text()).get("version")
        except (OSError, ValueError, AttributeError):
            version = None
        reasons.append(f"it was written by store version {version} (this cxrinit writes version {STORE_VERSION}"
                       + (", whose index records BLAKE3 hashes of the source files)" if version == 2 else ")"))
    changed = [d for d in differs if d != "version"]
    if changed:
        reasons.append(f"the folder's files changed since it was built ({', '.join(changed)})")
    return " and ".join(reasons)


def check_folder_leakage(folder: str, index: pd.DataFrame, held_out: dict[str, pd.DataFrame]) -> None:
    """Raise ``LeakageError`` when an image of ``folder`` has the content (``source_blake3``, the BLAKE3 hash
    of the file's bytes) of a validation or test image of a source: pretraining on it would let the
    initialization see the evaluation."""
    hashes = index.loc[index["status"].astype(str) == "ok", ["file", "source_blake3"]].dropna()
    for source, frame in held_out.items():
        leaked = hashes.merge(frame, on="source_blake3")
        if len(leaked):
            first = leaked.iloc[0]
            raise LeakageError(
                f"selfsupervised.folders: {len(leaked)} image(s) of {folder} are {source} validation/test images "
                f"(same file content; e.g. {first['file']} = {source} {first['split']} image "
                f"{first['held_out_id']}): remove them from the folder, or pretrain on "
                "selfsupervised.sources (their training splits) instead")


def held_out_images(images: StoreSet, splits: pd.DataFrame) -> pd.DataFrame:
    """``source_blake3``, ``split`` and ``held_out_id`` of a source's validation and test images.

    A store of store version 2 recorded SHA-256 (index column ``source_hash``), which cannot be compared
    with a folder's BLAKE3 hashes: refused, naming the ingestion run that re-hashes it."""
    from cxrinit.imaging.store import FINGERPRINT, STORE_VERSION

    if "source_blake3" not in images.index.columns:
        try:
            version = json.loads((images.path / FINGERPRINT).read_text()).get("version")
        except (OSError, ValueError, AttributeError):
            version = None
        source = images.path.parent.name
        raise DatasetError(
            f"selfsupervised.folders: the pixel store {images.path} was written by store version {version}, "
            "which recorded SHA-256 hashes of the source files (index column source_hash); the folder leakage "
            f"check compares BLAKE3 hashes (source_blake3, store version {STORE_VERSION}). Run the ingestion "
            f"pipeline for it first (kedro run --pipelines ingestion --namespaces {source}): it re-hashes the "
            "store from its files without decoding any image again")
    held = splits[splits["split"].astype(str).isin(["val", "test"])][["image_id", "split"]]
    index = images.index[["image_id", "source_blake3"]].dropna()
    frame = held.astype({"image_id": str}).merge(index.astype({"image_id": str}), on="image_id")
    return frame.rename(columns={"image_id": "held_out_id"})


def probe_splits(images: StoreSet, labels: pd.DataFrame, splits: pd.DataFrame, size: int,
                 findings: list[str]) -> tuple[Any, Any] | None:
    """The probe source's train and val splits (labelled), or None when it has no usable validation images."""
    from cxrinit.training.data import assemble_split

    if not (splits["split"] == "val").any():
        return None
    store = images[size]
    train = assemble_split(store, labels, splits, "train", findings)
    try:
        val = assemble_split(store, labels, splits, "val", findings)
    except ValueError:
        return None
    return train, val


def selfsupervise(selfsupervised: SelfSupervisedSettings, ingestion: IngestionSettings, ontology: LabelSettings,
                  tracking: TrackingConfig, provenance: Provenance, *tables: Any, sources: tuple[str, ...],
                  ssl_sources: tuple[str, ...], probe: str | None, label_set: str) -> dict[str, Any]:
    """Pretrain the ``ssl`` initialization; returns its card (or a skipped card saying why).

    ``tables``: each of ``sources``' images and splits, in that order, then the ``probe`` source's labels.
    The training images are ``ssl_sources``' training splits and ``selfsupervised.folders``; validation
    and test patients (and, for folders, validation and test files) are refused.
    """
    from cxrinit.selfsupervised import ProbeData, SSLCell, store_rows
    from cxrinit.tracking import track_ssl

    settings = selfsupervised
    stores = {s: tables[2 * i] for i, s in enumerate(sources)}
    splits = {s: tables[2 * i + 1] for i, s in enumerate(sources)}
    size = int(settings.store_size or stores[(ssl_sources or sources)[0]].sizes[0])
    out_dir = Path(settings.models_dir) / NAMESPACE
    parts, data = [], {}
    for source in ssl_sources:
        part, dropped = store_rows(source, stores[source][size], splits[source])
        parts.append(part)
        data[source] = {"images": len(part), "dropped": dropped}
    held = {s: held_out_images(stores[s], splits[s]) for s in sources} if settings.folders else {}
    for folder in dict.fromkeys(settings.folders):
        path = Path(folder).expanduser()
        # one store per folder, named by the folder (not its place in the list)
        name = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        part, index, dropped = folder_rows(path, out_dir / "folders" / f"{path.name}-{name}", ingestion, size)
        check_folder_leakage(folder, index, held)
        parts.append(part)
        data[part.name] = {"images": len(part), "dropped": dropped}
    for name, entry in data.items():
        log.info("selfsupervised: %s gives %d training images%s", name, entry["images"],
                 f" (left out: {entry['dropped']})" if entry["dropped"] else "")
    probe_data = None
    if settings.probe.enabled and probe is not None:
        findings = ontology.ontology.label_set(label_set, probe)
        found = probe_splits(stores[probe], tables[-1], splits[probe], size, findings)
        if found is None:
            log.warning("selfsupervised: no k-NN probe: %s has no usable validation images", probe)
        else:
            probe_data = ProbeData(probe, stores[probe][size].images, *found)
    fingerprint = json.loads((stores[(ssl_sources or sources)[0]].path / "fingerprint.json").read_text())
    preprocessing = {"recipe": fingerprint["recipe"], "store_size": size}
    cell = SSLCell(init=settings.init, parts=tuple(parts), img_size=settings.img_size, out_dir=out_dir,
                   dino=settings.dino, crops=settings.crops, train=settings.train, probe=settings.probe,
                   probe_data=probe_data, inits=settings.registry, normalization=settings.normalization,
                   device=settings.device, registry_key=f"{STAGE}.registry")
    lineage = {"method": settings.method, "init": settings.init,
               "data": ", ".join(f"{p.name}/train" if not p.name.startswith("folder:") else p.name for p in parts)}
    try:
        return track_ssl(tracking, cell, model_name=tracking.model_name("init_model_name", init="ssl",
                                                                         labelset=settings.method),
                         lineage=lineage, preprocessing=preprocessing, data=data, provenance=provenance)
    except WeightsUnavailable as err:
        return skipped(STAGE, "ssl", "unlabeled", str(err))
