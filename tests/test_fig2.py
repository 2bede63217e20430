"""Each Fig 2 panel writes a non-empty PNG and SVG, and refuses input it cannot draw honestly."""

import numpy as np
import pandas as pd
import pytest

from cic import evaluation as ev
from cic.figures import fig2

RNG = np.random.default_rng(0)
GEP = RNG.normal(8.0, 2.0, size=(8, 50))
REP = GEP + RNG.normal(scale=0.2, size=GEP.shape)
SAMPLES = pd.DataFrame({"cell_type": ["colon"] * 3 + ["neuron"] * 3 + ["esc"] * 2,
                        "study": ["s1", "s1", "s2", "s3", "s3", "s3", "s4", "s4"]},
                       index=[f"GSM{i}" for i in range(8)])


def outputs(tmp_path, name):
    return tmp_path / f"{name}.png", tmp_path / f"{name}.svg"


def assert_written(png, svg):
    assert png.stat().st_size > 0 and png.read_bytes()[:4] == b"\x89PNG"
    assert svg.stat().st_size > 0 and b"<svg" in svg.read_bytes()[:2000]


@pytest.mark.parametrize("metric", ev.METRICS)
def test_rank_counts(tmp_path, metric):
    table = ev.rank_counts(ev.rank_of_own_reproduction(GEP, REP, metric), max_rank=3)
    png, svg = outputs(tmp_path, f"ranks_{metric}")
    fig2.plot_rank_counts(table, metric, fig2.PAPER_RANK1_FRACTION[metric], png, svg)
    assert_written(png, svg)
    with pytest.raises(ValueError, match="non-empty table"):
        fig2.plot_rank_counts(table.iloc[:0], metric, None, png, svg)


def test_examples(tmp_path):
    examples = ev.select_examples(SAMPLES, GEP, REP)
    assert examples["cell_type"].tolist() == ["colon", "neuron", "esc"]
    png, svg = outputs(tmp_path, "examples")
    fig2.plot_examples(examples, GEP, REP, png, svg)
    assert_written(png, svg)
    with pytest.raises(ValueError, match="no examples"):
        fig2.plot_examples(examples.iloc[:0], GEP, REP, png, svg)


@pytest.mark.parametrize("metric", ev.METRICS)
def test_similarity_boxplots(tmp_path, metric):
    gep_gep, _ = ev.nearest_neighbour_similarity(GEP, metric)
    rep_gep = ev.paired_similarity(GEP, REP, metric)
    png, svg = outputs(tmp_path, f"boxes_{metric}")
    fig2.plot_similarity_boxplots(gep_gep, rep_gep, metric, png, svg)
    assert_written(png, svg)
    with pytest.raises(ValueError, match="non-empty 1-D array"):
        fig2.plot_similarity_boxplots([], [], metric, png, svg)


def test_similarity_boxplots_reject_zero_mse_on_log_scale(tmp_path):
    with pytest.raises(ValueError, match="log"):
        fig2.plot_similarity_boxplots([0.5, 0.4, 0.6], [0.0, 0.1, 0.1], "mse", *outputs(tmp_path, "zero"))


def test_method_comparison(tmp_path):
    rebuilt = ev.reconstruct_with_baselines(GEP[:6], GEP[6:], n_components=2, methods=("pca", "kpca_rbf"))
    per_sample = {"cic": ev.paired_similarity(GEP[6:], REP[6:], "mse"), **ev.per_sample_mse(GEP[6:], rebuilt)}
    png, svg = outputs(tmp_path, "methods")
    fig2.plot_method_comparison(per_sample, png, svg)
    assert_written(png, svg)
    with pytest.raises(ValueError, match="no methods"):
        fig2.plot_method_comparison({}, png, svg)
    with pytest.raises(ValueError, match="MSE of pca must be a non-empty"):
        fig2.plot_method_comparison({"pca": np.array([])}, png, svg)


def test_cv_curve_and_multi_line_curves(tmp_path):
    history = pd.DataFrame([
        {"fold": fold, "epoch": epoch, "test_mse": 0.3 / epoch + 0.01 * fold}
        for fold in range(3) for epoch in range(1, 6)
    ])
    png, svg = outputs(tmp_path, "cv")
    fig2.plot_cv_curve(history, png, svg)
    assert_written(png, svg)

    noisy = pd.concat([history.assign(noise=level, test_mse=history.test_mse * (1 + level)) for level in (0, 1)])
    png, svg = outputs(tmp_path, "noise")
    fig2.plot_mse_curves(noisy, "noise", png, svg, log_y=True, legend_title="noise level")
    assert_written(png, svg)

    with pytest.raises(ValueError, match=r"lacks column\(s\) \['fold'\]"):
        fig2.plot_cv_curve(history.drop(columns="fold"), png, svg)
    with pytest.raises(ValueError, match="no rows"):
        fig2.plot_cv_curve(history.iloc[:0], png, svg)
