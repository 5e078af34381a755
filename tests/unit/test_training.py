"""The shared training loop resumes after a kill and selects the checkpoint as configured."""

from pathlib import Path

import pytest
import torch

from lmac.errors import LmacError
from lmac.training import LoopSpec, pick_device, run_training


class Killed(Exception):
    pass


def make_run(tmp_path, kill_at_epoch=None, select="best", epochs=4, settings=None, cyclic=False):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    # a per-step schedule whose period (2 * 3 steps) does not divide an epoch (4 steps)
    step_scheduler = (
        torch.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.1, step_size_up=3, cycle_momentum=False) if cyclic else None
    )
    data = torch.randn(32, 3, generator=torch.Generator().manual_seed(1))
    target = data @ torch.tensor([[1.0], [-2.0], [0.5]])
    state = {"epoch": 0}

    def batches(epoch):
        state["epoch"] = epoch
        order = torch.randperm(32, generator=torch.Generator().manual_seed(epoch))
        return [order[i : i + 8] for i in range(0, 32, 8)]

    def step(idx):
        if state["epoch"] == kill_at_epoch:
            raise Killed
        noise = torch.randn(len(idx), 1) * 0.01  # consumes the global RNG, which resume restores
        loss = ((model(data[idx]) - target[idx] - noise) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    def validate():
        # a validation score that is best at epoch 2, so best ≠ last
        return {"valid_loss": abs(state["epoch"] - 2) + 0.5}

    return run_training(
        module=model,
        optimizer=opt,
        train_batches=batches,
        steps_per_epoch=4,
        train_step=step,
        validate=validate,
        spec=LoopSpec(epochs, select=select),
        work_dir=tmp_path / "work",
        settings=settings or {"test": 1},
        step_scheduler=step_scheduler,
    )


def test_resume_after_kill_equals_uninterrupted_run(tmp_path):
    straight, history = make_run(tmp_path / "a", select="last")
    with pytest.raises(Killed):
        make_run(tmp_path / "b", kill_at_epoch=3, select="last")
    resumed, resumed_history = make_run(tmp_path / "b", select="last")
    assert [r["epoch"] for r in resumed_history] == [1, 2, 3, 4]
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key])
    assert [r["train_loss"] for r in resumed_history] == pytest.approx([r["train_loss"] for r in history])


def test_a_per_step_schedule_resumes_where_it_stopped(tmp_path):
    straight, history = make_run(tmp_path / "a", select="last", cyclic=True)
    with pytest.raises(Killed):
        make_run(tmp_path / "b", kill_at_epoch=3, select="last", cyclic=True)
    resumed, resumed_history = make_run(tmp_path / "b", select="last", cyclic=True)
    # after epoch e the schedule has taken 4e steps: lr = clr(4e) of the triangle 0.01 -> 0.1 over 3 steps
    clr = [0.01 + 0.09 * (1 - abs(k / 3 - 2 * (1 + k // 6) + 1)) for k in (4, 8, 12, 16)]
    assert [r["lr"] for r in history] == pytest.approx(clr)
    assert [r["lr"] for r in resumed_history] == pytest.approx(clr)
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key])


def test_best_and_last_selection(tmp_path):
    best, history = make_run(tmp_path / "best", select="best")
    last, _ = make_run(tmp_path / "last", select="last")
    assert min(history, key=lambda r: r["valid_loss"])["epoch"] == 2
    saved = torch.load(tmp_path / "best" / "work" / "best.pt", weights_only=True)
    assert saved["epoch"] == 2
    torch.testing.assert_close(best["weight"], saved["model"]["weight"])
    assert not torch.equal(best["weight"], last["weight"])


def test_more_epochs_with_the_same_settings_continue(tmp_path):
    make_run(tmp_path, epochs=2)
    _, history = make_run(tmp_path, epochs=3)
    assert [r["epoch"] for r in history] == [1, 2, 3]


def test_changed_settings_start_afresh(tmp_path, caplog):
    make_run(tmp_path, epochs=2)
    caplog.set_level("INFO", logger="lmac.train")
    _, history = make_run(tmp_path, epochs=3, settings={"test": 2})
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert "different configuration; starting afresh" in caplog.text
    assert "resuming" not in caplog.text


def _short_run(tmp_path, model, epochs=1):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(4, model.in_features)
    return run_training(
        module=model,
        optimizer=opt,
        train_batches=lambda epoch: [x],
        steps_per_epoch=1,
        train_step=lambda batch: model(batch).pow(2).mean().item(),
        validate=lambda: {"valid_loss": 1.0},
        spec=LoopSpec(epochs),
        work_dir=tmp_path / "work",
        settings={"test": 1},
    )


@pytest.mark.parametrize(
    "change,why",
    [
        (
            lambda state: state.update(model={**state["model"], "weight": torch.zeros(1, 4)}),
            "weight 'weight' has shape (1, 4), the model needs (1, 3)",
        ),
        (lambda state: state["model"].pop("bias"), "lacks weight 'bias'"),
        (lambda state: state.pop("torch_rng"), "it lacks torch_rng"),
        (
            lambda state: state["optimizer"]["param_groups"].append(dict(state["optimizer"]["param_groups"][0])),
            "its optimiser state does not fit",
        ),
    ],
)
def test_work_dir_of_the_same_settings_but_another_model_starts_afresh(tmp_path, caplog, change, why):
    """A last.pt left by another version of lmac (same settings, other model) is redone, not a traceback."""
    _short_run(tmp_path, torch.nn.Linear(3, 1), epochs=2)
    last = tmp_path / "work" / "last.pt"
    state = torch.load(last, weights_only=True)
    change(state)
    torch.save(state, last)
    caplog.set_level("INFO", logger="lmac.train")
    model = torch.nn.Linear(3, 1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state, history = _short_run(tmp_path, model, epochs=1)
    assert [r["epoch"] for r in history] == [1]
    assert f"{last} cannot be resumed (" in caplog.text and why in caplog.text and "resuming" not in caplog.text
    assert all(torch.equal(v, before[k]) for k, v in state.items())  # its own weights, none of last.pt's


# --------------------------------------------------------------------------------------------
# device strings


@pytest.mark.parametrize("value", ["foo", "cuda:x", "mps", "CPU", "cuda:", "cuda:0:1", " cpu", "", "meta"])
def test_unknown_device_names_the_value_and_the_accepted_forms(value):
    with pytest.raises(LmacError) as err:
        pick_device(value)
    message = str(err.value)
    assert "\n" not in message and repr(value) in message and "auto, cpu, cuda or cuda:N" in message


def test_mps_is_refused_even_where_torch_has_it(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    with pytest.raises(LmacError, match=r"device 'mps': not a device lmac runs on"):
        pick_device("mps")


@pytest.mark.parametrize("value", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_a_gpu(monkeypatch, value):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(
        LmacError, match=rf"device '{value}' requested but no CUDA GPU is available \(use auto or cpu\)"
    ):
        pick_device(value)
    assert pick_device("auto") == torch.device("cpu")


def test_cuda_index_beyond_the_gpus_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(LmacError, match=r"device 'cuda:7': this machine has 2 CUDA GPU\(s\) .*N from 0 to 1"):
        pick_device("cuda:7")
    with pytest.raises(LmacError, match="'cuda:2'"):
        pick_device("cuda:2")
    assert pick_device("cuda:1") == torch.device("cuda:1")
    assert pick_device("cuda") == torch.device("cuda")
    assert pick_device("auto") == torch.device("cuda")


def test_valid_devices_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device() == torch.device("cpu")


def test_non_string_device():
    with pytest.raises(LmacError, match="device None: not a device"):
        pick_device(None)


def test_finished_training_leaves_no_resume_checkpoints(tmp_path):
    from lmac.jobs import Outputs, TrainingJob

    class Finished(TrainingJob):
        SECTION = "lmac"

        def run(self):
            work = Path(self.outputs.work)
            work.mkdir(parents=True)
            for name in ("last.pt", "best.pt", "settings.json"):
                (work / name).write_bytes(b"x" * 10)
            Path(self.outputs.model).write_bytes(b"model")
            return "done"

    job = Finished(prepared_dir=str(tmp_path), outputs=Outputs.in_folder(tmp_path / "out"), cfg={}, seed=0)
    assert job.execute() == "done"
    work = tmp_path / "out" / "work"
    assert sorted(p.name for p in work.iterdir()) == ["settings.json"]
    assert (tmp_path / "out" / "model.pt").read_bytes() == b"model"


def test_failed_checkpoint_write_is_one_line_naming_the_file(tmp_path, monkeypatch):
    from lmac.training import save_state

    def full_disk(obj, f):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 599798528 vs 599798420\nmore")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(LmacError, match=r"last\.pt: could not be written \(\[enforce fail.*\); [\d.]+ GiB free there$"):
        save_state({"a": 1}, tmp_path / "last.pt")
    assert list(tmp_path.iterdir()) == []  # no half-written file left
