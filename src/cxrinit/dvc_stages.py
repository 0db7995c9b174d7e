"""``cxrinit-dvc``: write ``dvc.yaml`` from the study layout of a Kedro environment.

The DVC stages follow the configuration like the pipelines do: one ``ingestion@<source>`` and one
``finetuning@<source>`` stage per enabled source, the pretraining stage when the ``mimic`` arm is
configured, the selfsupervised stage when the ``ssl`` arm is, the demo stage where the demo is enabled. Each stage calls ``kedro run`` for its
pipeline (and namespace) and lists its code, parameter and data dependencies and its outputs (the
folders of conf/base/catalog.yml's layout). Regenerate after changing sources or arms::

    cxrinit-dvc --env demo          # the committed dvc.yaml (the demo)
    cxrinit-dvc --env local         # your environment: real roots, your sources and arms
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from cxrinit.pipelines.layout import StudyLayout

#: The data layers under the environment's ``data_dir`` where the catalog (conf/base/catalog.yml) writes.
LAYERS = ("02_intermediate", "03_primary", "05_model_input", "06_models", "07_model_output", "08_reporting")
CODE = {
    "demo": ["src/cxrinit/demo", "src/cxrinit/pipelines/demo", "src/cxrinit/datasets/source_root.py"],
    "ingestion": ["src/cxrinit/sources", "src/cxrinit/imaging", "src/cxrinit/datasets/pixel_store.py",
                  "src/cxrinit/pipelines/ingestion"],
    "harmonization": ["src/cxrinit/labels", "src/cxrinit/pipelines/harmonization"],
    "pretraining": ["src/cxrinit/models", "src/cxrinit/training", "src/cxrinit/tracking",
                    "src/cxrinit/pipelines/pretraining", "src/cxrinit/pipelines/cells.py"],
    "selfsupervised": ["src/cxrinit/models", "src/cxrinit/selfsupervised", "src/cxrinit/training",
                       "src/cxrinit/tracking", "src/cxrinit/pipelines/selfsupervised"],
    "finetuning": ["src/cxrinit/models", "src/cxrinit/training", "src/cxrinit/tracking",
                   "src/cxrinit/pipelines/finetuning", "src/cxrinit/pipelines/cells.py"],
    "evaluation": ["src/cxrinit/evaluation", "src/cxrinit/pipelines/evaluation"],
}
HEADER = """\
# DVC stages of environment {env!r}, generated from its configuration by `cxrinit-dvc --env {env}`:
# regenerate after changing sources or arms (conf/*/parameters_{{sources,finetuning}}.yml), never edit.
# Each stage calls `kedro run` for its pipeline; `dvc repro` reruns what changed, `dvc push/pull` moves the
# outputs to and from the remote (.dvc/config).
"""


def _envs(env: str) -> list[str]:
    return ["base"] if env == "base" else ["base", env]


def _params(project: Path, env: str, block: str, keys: list[str] | None = None) -> list[dict[str, list[str]]]:
    """``params`` entries for ``block`` in base's and the environment's parameter files that hold it."""
    out = []
    for folder in _envs(env):
        rel = Path("conf") / folder / f"parameters_{block}.yml"
        if (project / rel).is_file() and block in (yaml.safe_load((project / rel).read_text()) or {}):
            out.append({rel.as_posix(): keys or [block]})
    return out


def _block(project: Path, rel: str, block: str) -> dict[str, Any]:
    return (yaml.safe_load((project / rel).read_text()) or {}).get(block) or {}


def _sources_files(files: list[dict[str, list[str]]]) -> dict[str, str]:
    """The (one or two) parameter files holding a source's entry, as the ingestion stage's item variables."""
    names = [next(iter(f)) for f in files] or ["conf/base/parameters_sources.yml"]
    return {"params": names[0], "params_override": names[-1]}


class MissingRoots(ValueError):
    """Sources of the layout without a raw root: their ingestion stages would have nothing to depend on."""


def stages(layout: StudyLayout, roots: dict[str, str | None], *, env: str, project: Path,
           data_dir: str = "data") -> dict[str, Any]:
    """The ``dvc.yaml`` document of ``layout``.

    ``roots``: each source's raw folder (``raw_roots``); ``data_dir``: the environment's data folder
    (``data_dir`` of its globals). Raises :class:`MissingRoots` naming every enabled source without a root.
    """
    run = f"kedro run --env {env} --pipelines"
    missing = [s for s in layout.sources if not roots.get(s)]
    if missing:
        raise MissingRoots(f"environment {env!r}: no raw_roots for {', '.join(missing)}; set raw_roots.<source> in "
                           f"conf/{env}/globals.yml, or leave the source out with sources.<source>.enabled: false "
                           f"in conf/{env}/parameters_sources.yml, then run cxrinit-dvc again")
    intermediate, primary, model_input, models, model_output, reporting = (f"{data_dir}/{x}" for x in LAYERS)
    # DVC needs every listed parameter in every listed file: each source names the files that hold
    # its own entry (base, the environment, or both; a file listed twice counts once)
    held = {s: [f for f in _params(project, env, "sources") if s in _block(project, next(iter(f)), "sources")]
            for s in layout.sources}
    sources = {s: {"root": str(roots[s]), **_sources_files(held[s])} for s in layout.sources}
    labels = [f"conf/{folder}/labels.yml" for folder in _envs(env)
              if (project / "conf" / folder / "labels.yml").is_file()]
    doc: dict[str, Any] = {"vars": [{"sources": sources}], "stages": {}}
    st = doc["stages"]
    if layout.demo_enabled:
        folders = sorted({str(Path(sources[s]["root"]).parent) for s in layout.demo_sources if s in sources})
        st["demo"] = {"cmd": f"{run} demo", "deps": CODE["demo"], "params": _params(project, env, "demo"),
                      "outs": folders}
    st["ingestion"] = {"foreach": "${sources}", "do": {
        "cmd": f"{run} ingestion --namespaces ${{key}}",
        "deps": ["${item.root}", *CODE["ingestion"]],
        "params": [*_params(project, env, "ingestion"), {"${item.params}": ["sources.${key}"]},
                   {"${item.params_override}": ["sources.${key}"]}],
        "outs": [f"{intermediate}/${{key}}", f"{primary}/${{key}}",
                 *(f"{reporting}/ingestion/${{key}}_{part}" for part in ("report.parquet", "counts.csv",
                                                                          "summary.md"))]}}
    st["harmonization"] = {
        "cmd": f"{run} harmonization",
        "deps": [*(f"{intermediate}/{s}" for s in sources), *(f"{primary}/{s}" for s in sources), *labels,
                 *CODE["harmonization"]],
        "params": _params(project, env, "harmonization"),
        "outs": [*(f"{model_input}/{s}" for s in sources), f"{reporting}/harmonization"]}
    if layout.pretraining_cells():
        source = layout.pretraining_source
        st["pretraining"] = {
            "cmd": f"{run} pretraining",
            "deps": [f"{primary}/{source}", f"{model_input}/{source}", *labels, *CODE["pretraining"]],
            "params": _params(project, env, "pretraining"), "outs": [f"{models}/mimic_init"]}
    if layout.ssl:
        st["selfsupervised"] = {
            "cmd": f"{run} selfsupervised",
            "deps": [*(f"{primary}/{s}" for s in sources), *(f"{model_input}/{s}" for s in sources), *labels,
                     *CODE["selfsupervised"]],
            "params": [*_params(project, env, "selfsupervised"), *_params(project, env, "ingestion")],
            "outs": [f"{models}/ssl_init"]}
    st["finetuning"] = {"foreach": "${sources}", "do": {
        "cmd": f"{run} finetuning --namespaces ${{key}}",
        "deps": [f"{primary}/${{key}}", f"{model_input}/${{key}}", *labels, *CODE["finetuning"],
                 *([f"{models}/mimic_init"] if layout.pretraining_cells() else []),
                 *([f"{models}/ssl_init"] if layout.ssl else [])],
        "params": _params(project, env, "finetuning"),
        "outs": [f"{models}/${{key}}", f"{model_output}/${{key}}"]}}
    st["evaluation"] = {
        "cmd": f"{run} evaluation",
        "deps": [*(f"{model_output}/{s}" for s in sources), *CODE["evaluation"]],
        "params": _params(project, env, "evaluation"),
        "outs": [f"{model_output}/evaluation", f"{reporting}/evaluation"]}
    return doc


def render(doc: dict[str, Any], env: str) -> str:
    return HEADER.format(env=env) + yaml.safe_dump(doc, sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cxrinit-dvc", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local", help="the Kedro environment whose configuration the stages follow")
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="the project folder (default: here)")
    parser.add_argument("--output", default="dvc.yaml", help="file to write, relative to the project; - for stdout")
    args = parser.parse_args(argv)
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    project = args.project.resolve()
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=args.env) as session:
        context = session.load_context()
        config = context.config_loader["globals"]
        try:
            doc = stages(context.layout, dict(config.get("raw_roots") or {}), env=args.env, project=project,
                         data_dir=str(config.get("data_dir", "data")))
        except MissingRoots as err:
            print(f"cxrinit-dvc: {err}", file=sys.stderr)
            return 2
        text = render(doc, args.env)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        (project / args.output).write_text(text)
        print(f"wrote {project / args.output} ({len(context.layout.sources)} sources, env {args.env})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
