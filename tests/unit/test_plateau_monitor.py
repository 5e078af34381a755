"""The plateau schedule watches the validation loss (lmac) or the validation fidelity (the reference)."""

import pytest
import torch

from lmac.errors import LmacError
from lmac.explainers.train_l2i import L2ITrainer
from lmac.explainers.train_lmac import LmacTrainer
from lmac.explainers.trainer import DelayedPlateau, plateau_watch
from lmac.training import LoopSpec, run_training

# the loss keeps improving while Fid-In never does: only a fidelity-watching plateau halves the rate
SCORES = [{"valid_loss": 1.0 / epoch, "valid_fid_in": 0.5} for epoch in range(1, 6)]


def lr_after(tmp_path, plateau, scheduler_mode="min") -> float:
    module = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(module.parameters(), lr=1.0)
    scores = iter(SCORES)
    run_training(
        module=module,
        optimizer=opt,
        train_batches=lambda ep: iter(()),
        steps_per_epoch=1,
        train_step=lambda item: 0.0,
        validate=lambda: dict(next(scores)),
        spec=LoopSpec(len(SCORES), plateau=plateau),
        work_dir=tmp_path,
        settings={"plateau": plateau},
        scheduler=DelayedPlateau(opt, mode=scheduler_mode, factor=0.5, patience=1),
    )
    return opt.param_groups[0]["lr"]


def test_loss_monitor_keeps_the_rate_while_the_loss_improves(tmp_path):
    assert plateau_watch({"monitor": "loss"}, "valid_fid_in") is None
    assert lr_after(tmp_path / "loss", plateau_watch({}, "valid_fid_in")) == 1.0


def test_fidelity_monitor_halves_the_rate_when_fid_in_stalls(tmp_path):
    watch = plateau_watch({"monitor": "fidelity"}, "valid_fid_in")
    assert watch == ("valid_fid_in", "max")
    assert lr_after(tmp_path / "fid", watch, "max") < 1.0


def test_each_explainer_names_its_fidelity_and_bad_monitors_are_refused():
    assert LmacTrainer.FIDELITY_KEY == "valid_fid_in"
    assert L2ITrainer.FIDELITY_KEY == "valid_theta_fid"
    with pytest.raises(LmacError, match="scheduler.monitor: unknown value 'acc'"):
        plateau_watch({"monitor": "acc"}, "valid_fid_in")
