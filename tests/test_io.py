"""Atomic outputs (cic.io): a writer that fails mid-way leaves no output, no temporary file, and an older output
untouched; a step's outputs published together appear all or none. (README: "nothing half-written".)"""

import os

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch

from cic import io
from cic.model import Autoencoder
from cic.train import TrainConfig, fit

TABLE = pd.DataFrame({"sample": ["S1", "S2"], "value": [0.1, 0.2]})


def _fail_after_writing_half(self, path, *args, **kwargs):
    with open(path, "w") as handle:
        handle.write("sample\tval")
    raise OSError("No space left on device")


def test_a_table_write_that_fails_midway_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(pd.DataFrame, "to_csv", _fail_after_writing_half)
    with pytest.raises(OSError, match="No space left on device"):
        io.write_table(TABLE, tmp_path / "out" / "table.tsv")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_failed_rewrite_keeps_the_older_output_whole(tmp_path, monkeypatch):
    io.write_table(TABLE, path := tmp_path / "table.tsv")
    before = path.read_bytes()
    monkeypatch.setattr(pd.DataFrame, "to_csv", _fail_after_writing_half)
    with pytest.raises(OSError, match="No space left on device"):
        io.write_table(TABLE.assign(value=[9.0, 9.0]), path)
    assert path.read_bytes() == before and sorted(tmp_path.iterdir()) == [path]


def test_an_h5ad_write_that_fails_midway_leaves_nothing(tmp_path, monkeypatch):
    def fail_midway(self, filename, *args, **kwargs):
        with open(filename, "wb") as handle:
            handle.write(b"\x89HDF\r\n")
        raise OSError("disk quota exceeded")

    monkeypatch.setattr(ad.AnnData, "write_h5ad", fail_midway)
    with pytest.raises(OSError, match="disk quota exceeded"):
        io.write_h5ad(ad.AnnData(np.ones((2, 3), dtype=np.float32)), tmp_path / "x.h5ad")
    assert list(tmp_path.iterdir()) == []


def test_outputs_published_together_appear_all_or_none(tmp_path, monkeypatch):
    """atomic_paths: when the second rename fails, the first output (already renamed) is removed again, and no
    temporary file stays."""
    first, second = tmp_path / "a.h5ad", tmp_path / "b.tsv"
    replace = os.replace

    def second_rename_fails(source, destination):
        if str(destination) == str(second):
            raise OSError("Input/output error")
        replace(source, destination)

    monkeypatch.setattr(os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="Input/output error"):
        with io.atomic_paths(first, second) as (first_tmp, second_tmp):
            first_tmp.write_text("whole")
            second_tmp.write_text("whole")
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(os, "replace", replace)
    with io.atomic_paths(first, second) as (first_tmp, second_tmp):
        first_tmp.write_text("one")
        second_tmp.write_text("two")
    assert (first.read_text(), second.read_text()) == ("one", "two") and sorted(tmp_path.iterdir()) == [first, second]


def test_a_checkpoint_write_that_fails_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    """Training resumes from its checkpoint (README): a crash while writing epoch 2's leaves epoch 1's intact."""
    x = np.random.default_rng(0).normal(size=(20, 10)).astype(np.float32)
    config = TrainConfig(epochs=2, iterations_per_epoch=1, batch_size=10, validation_fraction=0.0, device="cpu",
                         progress=False)
    checkpoint = tmp_path / "run.ckpt"
    save = torch.save

    def crash_on_epoch_2(state, path, *args, **kwargs):
        if state["epoch"] == 2:
            with open(path, "wb") as handle:
                handle.write(b"PK\x03\x04 half a zip")
            raise OSError("No space left on device")
        save(state, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", crash_on_epoch_2)
    with pytest.raises(OSError, match="No space left on device"):
        fit(Autoencoder(10, "L4"), x, config, checkpoint_path=checkpoint)
    assert sorted(tmp_path.iterdir()) == [checkpoint]
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1
