"""Faithfulness against torchcam's metrics; the randomization sanity check; SSIM against scikit-image."""

from functools import partial

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from camviewer.core.jobs import run_to_end
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import new_model
from camviewer.core.trust.faithfulness import faithfulness
from camviewer.core.trust.sanity import rank_correlation, sanity_check, ssim


def test_deletion_insertion_and_average_drop_match_torchcam():
    from torchcam.methods import GradCAM
    from torchcam.metrics import ClassificationMetric, DeletionInsertionMetric

    torch.manual_seed(0)
    model = new_model(ModelCard(arch="resnet18", class_names=list("abcd"), input_size=(64, 64)), "cpu")
    batch = torch.randn(3, 3, 64, 64)
    softmax = partial(torch.softmax, dim=-1)
    # torchcam's metric explains the softmax score and resizes its normalised CAM with
    # F.interpolate; rank by that very map so that only the metric definitions are compared
    # (it scores one image at a time: float noise between batch sizes reorders tied pixels, hence 1e-3).
    with GradCAM(model.module, "layer4", input_shape=(3, 64, 64)) as extractor:
        scores = softmax(model.module(batch))
        classes = scores.argmax(1).tolist()
        cams = extractor(classes, scores)[0]
    maps = F.interpolate(cams[:, None], (64, 64), mode="bilinear", align_corners=False)[:, 0].detach()
    ours = faithfulness(model, batch, maps, classes, steps=20)
    for i in range(3):
        with GradCAM(model.module, "layer4", input_shape=(3, 64, 64)) as extractor:
            metric = DeletionInsertionMetric(extractor, softmax, steps=20)
            metric.update(batch[i : i + 1])
            expected = metric.summary()
        with GradCAM(model.module, "layer4", input_shape=(3, 64, 64)) as extractor:
            drop = ClassificationMetric(extractor, softmax)
            drop.update(batch[i : i + 1])
            drop_expected = drop.summary()
        assert ours.deletion_auc[i] == pytest.approx(expected["deletion_auc"], abs=1e-3)
        assert ours.insertion_auc[i] == pytest.approx(expected["insertion_auc"], abs=1e-3)
        assert ours.drop[i] == pytest.approx(drop_expected["avg_drop"], abs=1e-4)
        assert float(ours.increase[i]) == drop_expected["conf_increase"]
    assert ours.fractions[0] == 0 and ours.fractions[-1] == 1 and len(ours.fractions) == 21


def test_deletion_curve_by_hand():
    """A model whose score is the mean of the input: deleting the top half of a map removes exactly those pixels."""

    class MeanModel(torch.nn.Module):
        def forward(self, x):
            m = x.mean(dim=(1, 2, 3))
            return torch.stack([torch.zeros_like(m), m], 1)

    from camviewer.core.model.loaded import LoadedModel

    model = LoadedModel(
        MeanModel(), ModelCard(arch="mean", class_names=["a", "b"], input_size=(8, 8)), torch.device("cpu")
    )
    model.card.head = "sigmoid"  # probabilities = sigmoid(score): monotone, exact to hand-compute
    batch = torch.tensor([[[[4.0, 0.0], [0.0, 0.0]]]]).repeat(1, 3, 1, 1)
    heat = torch.tensor([[[1.0, 0.5], [0.2, 0.1]]])
    scores = faithfulness(model, batch, heat, [1], steps=4)
    # positions ranked 4, 0, 0, 0; deleting 0..4 positions: means 1, 0, 0, 0, 0
    expected = torch.sigmoid(torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0])).numpy()
    np.testing.assert_allclose(scores.deletion[0], expected, rtol=1e-6)
    inserted = torch.sigmoid(torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0])).numpy()
    np.testing.assert_allclose(scores.insertion[0], inserted, rtol=1e-6)
    assert scores.deletion_auc[0] == pytest.approx(np.trapezoid(expected, [0, 0.25, 0.5, 0.75, 1]))


def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    a = cv2.GaussianBlur(rng.random((40, 50)), (7, 7), 2)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    for x, y in [(a, b), (a, a), (a, 1 - a), (a, rng.random((40, 50)))]:
        assert ssim(x, y) == pytest.approx(structural_similarity(x, y, data_range=1.0), abs=1e-6)


def test_rank_correlation():
    x = np.arange(16, dtype=float).reshape(4, 4)
    assert rank_correlation(x, x**3) == pytest.approx(1.0)
    assert rank_correlation(x, -x) == pytest.approx(-1.0)
    assert rank_correlation(x, np.zeros_like(x)) == 0.0


def spot_images(n, rng):
    """Class 1 has a bright square at a random place; class 0 is noise only."""
    images = rng.normal(0.3, 0.05, (n, 3, 32, 32)).astype(np.float32)
    labels = np.arange(n) % 2
    for i in np.flatnonzero(labels):
        y, x = rng.integers(2, 24, 2)
        images[i, :, y : y + 6, x : x + 6] = 1.0
    return torch.from_numpy(images), torch.from_numpy(labels)


@pytest.fixture(scope="module")
def trained_spot_model():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    card = ModelCard(
        arch="tinyvgg_gap", class_names=["plain", "spot"], input_size=(32, 32), arch_options={"widths": [8, 16]}
    )
    model = new_model(card, "cpu")
    images, labels = spot_images(128, rng)
    optimizer = torch.optim.Adam(model.module.parameters(), lr=3e-3)
    model.module.train()
    for _ in range(12):
        for start in range(0, 128, 32):
            optimizer.zero_grad()
            loss = F.cross_entropy(model.module(images[start : start + 32]), labels[start : start + 32])
            loss.backward()
            optimizer.step()
    model.module.eval()
    test_images, test_labels = spot_images(32, np.random.default_rng(1))
    accuracy = (model.predict_tensor(test_images).argmax(1) == test_labels.numpy()).mean()
    assert accuracy >= 0.9  # the model really learned the spot, or the sanity test below means nothing
    return model, test_images[test_labels == 1][:6]


def test_sanity_check_passes_gradcam_on_a_trained_model(trained_spot_model):
    model, batch = trained_spot_model
    before = [p.clone() for p in model.module.parameters()]
    report = run_to_end(sanity_check(model, batch, "gradcam", stages=3))
    assert report.passed, report.stages
    assert [s.name for s in report.stages][-1] == "all layers randomized at once" and len(report.stages) == 3
    assert all(torch.equal(a, b) for a, b in zip(before, model.module.parameters()))  # the caller's model is untouched


def test_sanity_check_fails_an_edge_detector_that_ignores_the_model(trained_spot_model):
    model, batch = trained_spot_model

    def edge_detector(_model, images, _classes):
        grey = images.mean(1).numpy()
        return np.stack([np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1)) for g in grey])

    report = run_to_end(sanity_check(model, batch, edge_detector, stages=3))
    assert not report.passed
    assert report.fully_randomized.spearman == pytest.approx(1.0) and report.fully_randomized.ssim == pytest.approx(1.0)
