"""``dmdt mixture`` on the two shipped hybrids: one bundle whose `other` is the generalist's and
whose 7 classes are both bundles' votes, calibrated, evaluated and installed; bundles that do
not fit the rule refused."""

import json

import numpy as np
import pytest

from classifier.bundle import load_bundle
from classifier.inference import OnnxClassifier
from classifier.registry import DEFAULT_MODELS_DIR
from services.cli import main

SPECIALIST = DEFAULT_MODELS_DIR / "css-hybrid"
GENERALIST = DEFAULT_MODELS_DIR / "survey-hybrid"


def _args(shared_data, out, specialist=SPECIALIST, generalist=GENERALIST) -> list[str]:
    css = str(shared_data / "crts_css" / "lightcurves")
    return [
        *("mixture", css, "--out", str(out), "--split-seed", "2017", "--per-class", "12"),
        *("--specialist", str(specialist), "--generalist", str(generalist)),
        *("--transients", str(shared_data / "transients_osc"), "--transient-limit", "10"),
        *("--quasars", str(shared_data / "gaia_qso"), "--quasar-limit", "10"),
    ]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def mixed(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("mixture")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DMDT_MODELS_DIR", str(root / "models"))
        assert main([*_args(shared_data, root / "run"), "--install"]) == 0
    return root


def test_other_is_the_generalists_and_the_classes_are_both_votes(mixed):
    bundle = load_bundle(mixed / "models" / "mixed-hybrid")
    card = bundle.card
    assert card.architecture == "hybrid-mixture" and card.classes[-1] == "other"
    assert card.feature_names == load_bundle(SPECIALIST).card.feature_names
    assert card.metrics["onnx_max_abs_logit_diff"] < 1e-4
    assert card.temperature > 0 and 0 <= card.unknown_threshold <= 1

    specialist, generalist = load_bundle(SPECIALIST), load_bundle(GENERALIST)
    rng = np.random.default_rng(5)
    inputs = {
        "image": rng.uniform(0, 0.2, (16, 1, *bundle.grid.shape)).astype(np.float32),
        "features": rng.normal(0, 1, (16, len(card.feature_names or ()))).astype(np.float32),
    }
    columns = [card.feature_names.index(name) for name in generalist.card.feature_names]
    own = {"image": inputs["image"], "features": inputs["features"][:, columns]}
    p_s = _softmax(OnnxClassifier(specialist).logits(inputs) / specialist.card.temperature)
    p_g = _softmax(OnnxClassifier(generalist).logits(own) / generalist.card.temperature)
    p_other = p_g[:, -1:]
    given_member = p_g[:, :-1] / p_g[:, :-1].sum(axis=1, keepdims=True)
    expected = np.hstack([(1 - p_other) * (0.5 * p_s + 0.5 * given_member), p_other])
    got = np.exp(OnnxClassifier(bundle).logits(inputs))
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert not np.allclose(p_s.argmax(axis=1), given_member.argmax(axis=1))  # two real votes


def test_the_mixture_is_evaluated_as_a_run(mixed):
    evaluation = json.loads((mixed / "run" / "evaluation.json").read_text())
    assert evaluation["shipped"] == "hybrid"
    scores = evaluation["models"]["hybrid"]
    assert "first_20" in scores["macro_f1_by_points"] and scores["macro_f1_by_cadence"]
    assert (mixed / "run" / "report" / "summary.md").is_file()


def test_a_generalist_without_other_is_refused(shared_data, tmp_path, capsys):
    args = _args(shared_data, tmp_path / "out", generalist=SPECIALIST)
    assert main(args) == 2
    assert "the generalist's classes must be the specialist's and 'other'" in (
        capsys.readouterr().err
    )


def test_a_missing_bundle_is_refused(shared_data, tmp_path, capsys):
    assert main(_args(shared_data, tmp_path / "out", specialist=tmp_path / "none")) == 2
    assert f"{tmp_path / 'none'}: missing" in capsys.readouterr().err


def test_bundles_exported_at_two_opsets_are_refused():
    from onnx import helper  # noqa: PLC0415 - the training extra

    from training.mixture import MixtureError, _opsets  # noqa: PLC0415

    graph = helper.make_graph([], "empty", [], [])
    at = {v: helper.make_model(graph, opset_imports=[helper.make_opsetid("", v)]) for v in (17, 18)}
    assert [(o.domain, o.version) for o in _opsets([at[18], at[18]])] == [("", 18)]
    with pytest.raises(MixtureError, match=r"operator set ai\.onnx at 18 and 17"):
        _opsets([at[18], at[17]])
