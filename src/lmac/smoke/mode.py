"""The smoke-mode rewrite of a workflow config: counts shrink, sizes and switches stay.

``smoke.enabled`` turns it on (``--configfile config/smoke.yaml`` after any config). The rewrite is
plain config keys, so every rule runs its ordinary code path on the shrunk values:

* ``dataset.clips_per_split``: the evaluated split keeps its first ``smoke.clips`` clips, the others
  two (a batch-normalised training step needs two; the mixture pool keeps at least
  ``evaluation.versions`` distinct interferers); every class stays in the class list, so heads and
  published checkpoints keep their size;
* every training runs one epoch (its steps: the kept clips over its batch size), the LMAC-TD
  encoder/decoder pre-training ``smoke.steps`` steps, the NMF ``smoke.steps`` updates;
* the baselines' step and sample counts (IG, SmoothGrad, SHAP) are capped at ``smoke.steps``;
* each evaluated clip gets one contaminated version (``evaluation.versions``);
* the first ``smoke.seeds`` of ``seeds`` (and of ``claims.seeds``) run;
* the sanity checks, the example figure and the listening page use at most ``smoke.clips`` clips;
  the cascading randomisation runs ``smoke.steps`` of its steps, spread from the head to the last
  (every block randomised, the step the claims read);
* the run folder gets the suffix ``-smoke``, so a smoke run never mixes with a real one.

Model sizes, clip length, sample rate, classes, front end, batch sizes and every switch are left as
configured. :func:`smoke_changes` lists what the rewrite changed, for the run's log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

#: appended to the run folder's name (results/<run>-smoke/)
SUFFIX = "-smoke"

TRAINED_SECTIONS = ("classifier", "lmac", "lmac_ft", "lmac_td", "l2i")
#: clips kept in a split that is not evaluated: two make a batch that batch norm can train on
OTHER_SPLIT_CLIPS = 2


def enabled(config: Mapping) -> bool:
    """Whether ``config`` (a workflow config, validated or not) asks for smoke mode."""
    return bool((config.get("smoke") or {}).get("enabled"))


def _capped(limit: int) -> Callable[[object], object]:
    return lambda value: limit if value is None else min(int(value), limit)


def _set(config: dict, path: str, rewrite: Callable[[object], object], changes: list[str]) -> None:
    """Rewrite the key at dotted ``path`` where its section exists (absent sections are not created)."""
    *parents, key = path.split(".")
    node = config
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return
    old = node.get(key)
    new = rewrite(old)
    if new != old:
        node[key] = new
        changes.append(f"{path} {old} -> {new}")


def spread_steps(given: list[int] | None, n: int) -> list[int]:
    """``n`` of the cascading steps ``given`` (None: all), evenly spread and always with the last."""
    from ..sanity.randomise import N_STEPS  # the table mark imports this module: no torch for it

    steps = sorted(given) if given else list(range(1, N_STEPS + 1))
    if n >= len(steps):
        return steps
    if n == 1:
        return steps[-1:]
    return [steps[round(i * (len(steps) - 1) / (n - 1))] for i in range(n)]


def split_clips(config: dict, clips: int, given: int | dict | None) -> dict[str, int]:
    """Clips kept per split in smoke mode: ``clips`` of the evaluated split, two of the others, the
    mixture pool at least ``evaluation.versions``; never more than ``given`` (the configured limit)."""
    evaluation = config["evaluation"]
    wanted = dict.fromkeys(config["dataset"]["splits"], OTHER_SPLIT_CLIPS)
    wanted[evaluation["split"]] = clips
    if "mixture" in evaluation["conditions"]:
        pool = evaluation["mixture_pool"]
        wanted[pool] = max(wanted[pool], int(evaluation["versions"]), OTHER_SPLIT_CLIPS)
    if given is not None:
        limit = given if isinstance(given, dict) else dict.fromkeys(wanted, given)
        wanted = {name: min(n, limit.get(name, n)) for name, n in wanted.items()}
    return wanted


def apply_smoke(config: dict) -> list[str]:
    """Rewrite a validated ``config`` in place for smoke mode (no-op when ``smoke.enabled`` is false).

    Returns the changes as ``"key old -> new"`` lines.
    """
    if not enabled(config):
        return []
    smoke, changes = config["smoke"], []
    clips, steps, n_seeds = int(smoke["clips"]), int(smoke["steps"]), int(smoke["seeds"])
    one = _capped(1)
    _set(config, "evaluation.versions", one, changes)
    _set(config, "dataset.clips_per_split", lambda given: split_clips(config, clips, given), changes)
    _set(config, "seeds", lambda seeds: list(seeds[:n_seeds]), changes)
    _set(config, "claims.seeds", lambda seeds: list(seeds[:n_seeds]), changes)
    for section in TRAINED_SECTIONS:
        _set(config, f"{section}.epochs", one, changes)
    for path in ("lmac_td.encoder_decoder.epochs", "sanity.retrain_epochs", "sanity.permuted_epochs"):
        _set(config, path, one, changes)
    for path in (
        "lmac_td.encoder_decoder.steps_per_epoch",
        "nmf.iterations",
        "baselines.ig.n_steps",
        "baselines.smoothgrad.n_samples",
        "baselines.shap.n_samples",
        "baselines.shap.n_baselines",
    ):
        _set(config, path, _capped(steps), changes)
    _set(config, "sanity.cascade_steps", lambda given: spread_steps(given, steps), changes)
    for path in ("sanity.n_clips", "report.n_examples", "listening.page_clips"):
        _set(config, path, _capped(clips), changes)
    # null: report.n_examples trials, capped above
    _set(config, "listening.test.clips", lambda value: None if value is None else min(int(value), clips), changes)
    return changes
