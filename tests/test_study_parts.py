"""The training experiments' parts: grids, balancing, FGSM's direction."""

import numpy as np
import pytest
import torch

from classifier.grid import DmDtGrid
from training.adversarial import fgsm
from training.binning_study import study_grids
from training.fit import FitConfig
from training.minority import balanced_extra
from training.nets import DmDtNet
from training.study import STUDY_CHANNELS, over_seeds, predict, train_net


def test_study_grids_refine_dm_and_coarsen_dt_of_the_paper_grid():
    grids = study_grids()
    crts = DmDtGrid.preset("crts")
    finer, fewer = grids["finer dm"], grids["fewer dt"]
    assert set(crts.dm_edges) < set(finer.dm_edges)  # every paper edge kept
    assert finer.shape == (32, 24) and np.array_equal(finer.dt_edges, crts.dt_edges)
    dm = crts.dm_edges
    inner = (dm[:-1] >= -1) & (dm[1:] <= 1)
    midpoints = ((dm[:-1] + dm[1:]) / 2)[inner]  # each bin inside +/-1 mag split in two
    np.testing.assert_allclose(np.setdiff1d(finer.dm_edges, dm), midpoints)
    assert fewer.shape == (22, 12) and np.array_equal(fewer.dm_edges, crts.dm_edges)
    assert fewer.dt_edges[0] == crts.dt_edges[0] and fewer.dt_edges[-1] == crts.dt_edges[-1]


def test_balanced_extra_brings_every_class_to_the_largest():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 7)
    extra = balanced_extra(labels, seed=1)
    counts = np.bincount(np.concatenate([labels, labels[extra]]))
    assert counts.tolist() == [10, 10, 10]


def test_fgsm_raises_the_loss_more_than_a_random_step_of_the_same_size():
    torch.manual_seed(0)
    model = DmDtNet((22, 24), 3, STUDY_CHANNELS).eval()
    rng = np.random.default_rng(0)
    images = rng.uniform(0.2, 0.8, (64, 1, 22, 24)).astype(np.float32)
    labels = rng.integers(0, 3, 64)

    def loss(x: np.ndarray) -> float:
        with torch.no_grad():
            logits = model(torch.as_tensor(x))
        return float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(labels)))

    eps = 0.01
    adversarial = fgsm(model, images, labels, eps)
    random = np.clip(images + eps * rng.choice([-1.0, 1.0], images.shape), 0, 1)
    assert np.abs(adversarial - images).max() == pytest.approx(eps, abs=1e-6)
    assert loss(adversarial) - loss(images) > 5 * abs(
        loss(random.astype(np.float32)) - loss(images)
    )
    assert np.array_equal(fgsm(model, images, labels, 0.0), images)


def test_a_study_network_learns_a_small_pair_of_faint_images():
    """Small classes, tiny pixel values: the case where running batch-norm statistics
    kept their initial variance and the network answered one class in evaluation."""
    rng = np.random.default_rng(3)
    images = np.zeros((120, 1, 22, 24), np.float32)
    labels = np.arange(120) % 2
    images[labels == 0, 0, 10, 20] = rng.uniform(5e-4, 2e-3, 60)
    images[labels == 1, 0, 3, 20] = rng.uniform(5e-4, 2e-3, 60)
    config = FitConfig(max_epochs=8, patience=8, batch_size=128)
    model = train_net(images[:80], labels[:80], images[80:], labels[80:], 2, config)
    assert (predict(model, images[80:]) == labels[80:]).mean() >= 0.85  # one class: 0.5


def test_over_seeds_averages_each_variant_and_keeps_its_range():
    runs = [
        {"a": {"macro_f1": 0.6, "recall": {"EW": 0.5}, "shape": "22 x 24", "ms": 1.0}},
        {"a": {"macro_f1": 0.9, "recall": {"EW": 1.0}, "shape": "22 x 24", "ms": 3.0}},
        {"a": {"macro_f1": 0.75, "recall": {"EW": 0.0}, "shape": "22 x 24", "ms": 2.0}},
    ]
    combined = over_seeds(runs)["a"]
    assert combined["macro_f1"] == pytest.approx(0.75) and combined["ms"] == pytest.approx(2.0)
    assert combined["recall"]["EW"] == pytest.approx(0.5) and combined["shape"] == "22 x 24"
    assert combined["macro_f1_range"] == (0.6, 0.9)
