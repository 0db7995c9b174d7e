"""Typed settings: every block validated before anything runs; a bad key is named with its origin and fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from kedro.config import OmegaConfigLoader

from cxrinit.config import (ConfigError, ConfigOrigins, EvaluationSettings, FinetuningSettings, IngestionSettings,
                            PretrainingSettings, ProjectSettings, validate_parameters)
from cxrinit.imaging import Recipe
from cxrinit.settings import CONFIG_LOADER_ARGS
from tests.conftest import REPO

CONF = REPO / "conf"


def parameters(env: str | None = "base", runtime: dict | None = None, conf: Path = CONF) -> dict:
    """The resolved parameters of ``env``, as the project's Kedro context sees them."""
    return OmegaConfigLoader(str(conf), env=env, runtime_params=runtime, **CONFIG_LOADER_ARGS)["parameters"]


def problems(raw: dict, env: str | None = "base", runtime: dict | None = None, conf: Path = CONF) -> list[str]:
    with pytest.raises(ConfigError) as err:
        validate_parameters(raw, origin=ConfigOrigins(conf, env, runtime, relative_to=conf.parent), env=env)
    return err.value.problems


@pytest.mark.parametrize("env", ["base", "demo", "local"])
def test_shipped_configuration_is_valid(env: str, tmp_path: Path) -> None:
    conf = tmp_path / "conf"  # what ships: a user's own conf/local (their datasets) is not ours to test
    shutil.copytree(CONF, conf, ignore=lambda folder, names: [n for n in names if Path(folder).name == "local"
                                                              and not n.endswith(".example.yml")])
    settings, ontology = validate_parameters(parameters(env, conf=conf))
    assert list(settings.enabled_sources()) == ["vindr", "nih", "chexpert", "mimic", "uka", "padchest"]
    assert set(settings.enabled_sources()) <= set(ontology.sources)


def test_base_configuration_states_the_defaults() -> None:
    """conf/base documents every setting with the value the models default to: defaults live in one place."""
    raw = parameters("base")
    settings, _ = validate_parameters(raw)
    for block in ("ingestion", "harmonization", "pretraining", "finetuning", "evaluation", "demo"):
        assert getattr(settings, block) == type(getattr(settings, block))(), block
    for block in ("ingestion", "harmonization", "pretraining", "finetuning", "evaluation"):  # the demo: conf/demo
        assert set(raw[block]) == set(type(getattr(settings, block)).model_fields), block


def test_an_unknown_top_level_key_lists_labels_among_the_valid_ones() -> None:
    runtime = {"finetunning": {"img_size": 64}}
    (problem,) = problems(parameters("demo", runtime), "demo", runtime)
    assert "unknown key (did you mean `finetuning`?)" in problem and "labels" in problem.split("valid keys:")[1]


def test_a_dotted_key_from_a_run_config_file_is_told_to_nest() -> None:
    """`kedro run -c run.yml` hands `params: {finetuning.inits: [...]}` over as one dotted key."""
    runtime = {"finetuning.inits": ["random"]}
    (problem,) = problems(parameters("demo", runtime), "demo", runtime)
    assert problem.startswith("`finetuning.inits`") and "nest it as `finetuning: {inits: ...}`" in problem


def test_unknown_key_from_params_names_origin_and_closest_key() -> None:
    runtime = {"evaluation": {"n_resample": 10}}
    (problem,) = problems(parameters("demo", runtime), "demo", runtime)
    assert problem.startswith("`evaluation.n_resample` (from --params or -c): unknown key "
                              "(did you mean `n_resamples`?)")
    assert "valid keys: preset, n_resamples, seed" in problem


def test_problems_in_files_name_the_file_and_are_all_reported(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    for path in (CONF / "base").glob("*.yml"):
        (conf / "base" / path.name).write_text(path.read_text())
    (conf / "mine").mkdir()
    (conf / "mine" / "parameters_finetuning.yml").write_text(yaml.safe_dump(
        {"finetuning": {"inits": ["dinov2", "imagnet21k"], "train": {"epochs": 0, "bach_size": 8}}}))
    (conf / "mine" / "parameters_ingestion.yml").write_text(yaml.safe_dump({"ingestion": {"recipe": {"fitt": "x"}}}))
    (conf / "mine" / "parameters_evaluation.yml").write_text(yaml.safe_dump({"evaluation": {"ci": 95}}))
    (conf / "mine" / "parameters_sources.yml").write_text(yaml.safe_dump(
        {"sources": {"mine": {"format": "foldr"}, "vindr": {"options": {"image_extt": ".dcm"}},
                     "nih": {"views": ["PA", "FRONT"]}}}))
    labels = yaml.safe_load((CONF / "base" / "labels.yml").read_text())
    labels["labels"]["label_sets"]["study"]["nih"].append("pleural_efusion")
    (conf / "mine" / "labels.yml").write_text(yaml.safe_dump(labels))
    found = problems(parameters("mine", conf=conf), "mine", conf=conf)
    text = "\n".join(found)
    assert "`sources.nih.views.1` (from conf/mine/parameters_sources.yml): Input should be 'PA'" in text
    assert ("(from conf/mine/labels.yml): unknown finding 'pleural_efusion' (did you mean `pleural_effusion`?)"
            in text)
    assert ("`finetuning.train.bach_size` (from conf/mine/parameters_finetuning.yml): unknown key "
            "(did you mean `batch_size`?)") in text
    assert ("`ingestion.recipe.fitt` (from conf/mine/parameters_ingestion.yml): unknown key "
            "(did you mean `fit`?)") in text
    assert "`evaluation.ci` (from conf/mine/parameters_evaluation.yml): Input should be less than 1" in text
    assert "`sources.mine.format` (from conf/mine/parameters_sources.yml): unknown source format 'foldr' " \
           "(did you mean `folder`?)" in text
    # one problem per block at least, each on its own line, naming the environment
    assert len(found) >= 4
    with pytest.raises(ConfigError, match=r"invalid settings \(environment 'mine'\); nothing has run"):
        validate_parameters(parameters("mine", conf=conf), env="mine")


@pytest.mark.parametrize("block, raw, message", [
    (FinetuningSettings, {"inits": ["random", "dinvo2"]},
     "`inits.1`: unknown initialization 'dinvo2' (did you mean `dinov2`?)"),
    (PretrainingSettings, {"init": "imagenet21"}, "`init`: unknown initialization 'imagenet21' (did you mean"),
    (FinetuningSettings, {"registry": {"mine": {"arch": "vit_small_patch16_224", "weights": "hubb"}}},
     "`registry.mine.weights`: init 'mine': weights='hubb' unknown"),
    (FinetuningSettings, {"train": {"batch_size": 30, "grad_accum": 4}},
     "`train.batch_size`: batch_size 30 does not split into grad_accum = 4 equal micro-batches"),
    (FinetuningSettings, {"train": {"epochs": 0}}, "epochs must be >= 1"),
    (FinetuningSettings, {"registry": {"mine": {"arch": "vit_small_patch16_224", "fiel": "w.pt"}}},
     "unknown key (did you mean `file`?)"),
    (FinetuningSettings, {"device": "gpu"}, "use auto, cpu, cuda"),
    (EvaluationSettings, {"n_resamples": 0}, "greater than or equal to 1"),
    (EvaluationSettings, {"threshold": "youden"}, "Input should be 'val_youden' or 'test_youden_per_resample'"),
    (IngestionSettings, {"sizes": [224, 8]}, "sizes must be within [16, 4096]"),
    (IngestionSettings, {"views": ["FRONTAL"]}, "Input should be 'PA', 'AP', 'LATERAL' or 'OTHER'"),
])
def test_impossible_values(block, raw: dict, message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as err:
        block.model_validate(raw)
    from cxrinit.config.base import describe

    assert message in "\n".join(describe(err.value, block))


def test_a_store_size_ingestion_does_not_write_is_refused_before_anything_runs() -> None:
    runtime = {"finetuning": {"store_size": 512}}
    (problem,) = problems(parameters("base", runtime), "base", runtime)
    assert problem.startswith("`finetuning.store_size` (from --params or -c): no pixel store of 512 px: "
                              "ingestion.sizes is [224]")


def test_presets_apply_where_the_settings_are_built() -> None:
    paper = EvaluationSettings.model_validate({"preset": "paper", "n_resamples": 10})
    assert (paper.threshold, paper.strict_threshold, paper.adjustment, paper.n_resamples) == \
        ("test_youden_per_resample", True, "none", 10)
    ingestion = IngestionSettings.model_validate({"recipe": {"preset": "paper", "fit": "letterbox"}})
    assert ingestion.recipe == Recipe.paper(fit="letterbox")
    finetuning = FinetuningSettings.model_validate({"preset": "paper", "train": {"epochs": 3}})
    assert finetuning.train_config().epochs == 3 and finetuning.train_config().weight_decay == 0.0


def test_names_that_span_blocks_are_checked() -> None:
    raw = parameters("base")
    raw["sources"]["mine"] = {"format": "folder"}                       # no labels for it
    raw["harmonization"] = {**raw["harmonization"], "preset": "papr", "policy_overrides": {"vinder": {}, "mimic": {}},
                            "split_overrides": {"mimic": {"test_fraction": 0.1}}}
    raw["sources"]["mimic"] = {"enabled": False}                         # but mimic is an arm
    text = "\n".join(problems(raw))
    assert "`sources.mine`" in text and "no labels for this source: add sources.mine" in text
    assert "`harmonization.preset`" in text and "unknown preset 'papr'" in text
    assert "`harmonization.policy_overrides.vinder`" in text and "'vinder' is not a source" in text
    # a source switched off keeps its overrides (the demo's split overrides name every source)
    assert "policy_overrides.mimic" not in text and "split_overrides" not in text
    assert "`finetuning.inits`" in text and "pretraining.source" in text


def test_settings_are_frozen() -> None:
    settings = ProjectSettings()
    with pytest.raises(Exception, match="frozen"):
        settings.evaluation.n_resamples = 5  # type: ignore[misc]


def test_what_the_newcomer_found_is_checked_before_anything_runs(tmp_path: Path) -> None:
    """A reader option's value, a weights file that is not there, a misspelled global, a word for a number."""
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    for path in (CONF / "base").glob("*.yml"):
        (conf / "base" / path.name).write_text(path.read_text())
    mine = conf / "mine"
    mine.mkdir()
    (mine / "parameters_sources.yml").write_text(yaml.safe_dump(
        {"sources": {"hospital": {"format": "folder", "options": {"columns": {"pth": "file"}}}}}))
    (mine / "labels.yml").write_text(yaml.safe_dump({"labels": {
        "sources": {"hospital": {"kind": "binary", "findings": {"cardiomegaly": ["cardiomegaly"]}}},
        "policies": {"hospital": {"views": None, "views_native": None, "blank": "ignore"}},
        "splits": {"hospital": {"use_official": False, "test_fraction": 0.2, "val_fraction": 0.1}},
        "label_sets": {"study": {"hospital": ["cardiomegaly"]}}}}))
    (mine / "parameters_finetuning.yml").write_text(yaml.safe_dump({"finetuning": {
        "train": {"epochs": "two"}, "registry": {"dinov2": {"file": str(tmp_path / "absent.pth")}}}}))
    (mine / "globals.yml").write_text(yaml.safe_dump({"raw_roots": {"hospitl": "/data/hospital"},
                                                      "raw_root": {"hospital": "/data/hospital"},
                                                      "weights_dir": "/weights"}))  # a global of the user's own
    loader = OmegaConfigLoader(str(conf), env="mine", **CONFIG_LOADER_ARGS)
    origin = ConfigOrigins(conf, "mine", relative_to=tmp_path)
    with pytest.raises(ConfigError) as err:
        validate_parameters(loader["parameters"], origin=origin, env="mine", globals_=loader["globals"],
                            globals_origin=origin.for_globals())
    text = "\n".join(err.value.problems)
    assert ("`sources.hospital.options.columns.pth` (from conf/mine/parameters_sources.yml): unknown column role 'pth' "
            "(did you mean 'path'?)") in text
    assert "`finetuning.train.epochs` (from conf/mine/parameters_finetuning.yml): Input should be a valid integer" in text
    assert f"`finetuning.registry.dinov2.file` (from conf/mine/parameters_finetuning.yml): no weights file at " \
           f"{tmp_path / 'absent.pth'}" in text
    assert "`raw_roots.hospitl` (from conf/mine/globals.yml): not a source (did you mean `hospital`?)" in text
    assert "`raw_root` (from conf/mine/globals.yml): unknown global (did you mean `raw_roots`?)" in text
    assert "weights_dir" not in text


@pytest.mark.parametrize(("options", "message"), [
    ({"vindr": {"options": {"layout": "Kaggle"}}},
     "`sources.vindr.options.layout`: 'Kaggle': use one of 'auto', 'physionet', 'kaggle'"),
    ({"nih": {"options": {"split_lists": "no"}}}, "`sources.nih.options.split_lists`: 'no': expected bool"),
])
def test_a_reader_option_of_the_wrong_value_is_refused_before_anything_reads(options: dict, message: str) -> None:
    from pydantic import ValidationError

    from cxrinit.config.base import describe

    with pytest.raises(ValidationError) as err:
        ProjectSettings.model_validate({"sources": options})
    assert message in "\n".join(describe(err.value, ProjectSettings))


def test_self_supervised_settings_are_checked_before_anything_runs(tmp_path: Path) -> None:
    runtime = {"finetuning": {"inits": ["ssl", "random"]},
               "selfsupervised": {"sources": ["vindr", "vinder"], "folders": [str(tmp_path / "nowhere")],
                                  "init": "dinvo2", "dino": {"out_dims": 10}, "crops": {"local_scale": [0.5, 0.1]},
                                  "train": {"epoch": 3}, "probe": {"source": "hospital"}}}
    found = "\n".join(problems(parameters("base", runtime), runtime=runtime))
    for expected in ("`selfsupervised.folders.0` (from --params or -c): no folder at",
                     "`selfsupervised.init` (from --params or -c): unknown initialization 'dinvo2' (did you mean `dinov2`?)",
                     "`selfsupervised.dino.out_dims`", "`selfsupervised.crops.local_scale`", "`selfsupervised.train.epoch`"):
        assert expected in found, found
    runtime = {"finetuning": {"inits": ["ssl", "random"]},
               "selfsupervised": {"sources": ["vindr", "vinder"], "probe": {"source": "hospital"}}}
    found = "\n".join(problems(parameters("base", runtime), runtime=runtime))
    assert "`selfsupervised.sources.1` (from --params or -c): 'vinder' is not an enabled source" in found, found
    assert "`selfsupervised.probe.source` (from --params or -c): 'hospital' is not an enabled source" in found, found
    runtime = {"finetuning": {"inits": ["ssl"]}, "selfsupervised": {"sources": ["vindr", "vindr"]}}
    assert "a source is listed twice" in "\n".join(problems(parameters("base", runtime), runtime=runtime))
    runtime = {"finetuning": {"inits": ["ssl"]}, "selfsupervised": {"sources": []}}
    assert "no images to pretrain on" in "\n".join(problems(parameters("base", runtime), runtime=runtime))
