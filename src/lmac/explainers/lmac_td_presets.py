"""LMAC-TD's two published configurations, its architecture settings and the embedded CPU scale.

Two versions of the reference code (PR #2838 and lmac-td-code) disagree:

=============================  =====================  ==========================
setting                        ``pr2838`` (PR #2838)  ``nov2024`` (lmac-td-code)
=============================  =====================  ==========================
λ_in / λ_out / λ_L1            5 / 0.2 / 6            4 / 0.2 / 0.4
α (mixing weight)              0.75                   1
intra transformer              4 layers × 4 heads     8 layers × 8 heads
front end n_fft                2048                   1024
=============================  =====================  ==========================

Both share N = 256 filters, kernel 16 / stride 8, chunk K = 250, two dual-path blocks, an inter
transformer of 2 layers × 8 heads, d_ffn 256, and λ_SI-SNR = 0.

**The n_fft conflict.** PR #2838's yaml sets ``n_fft: 2048`` for the one STFT/mel front end it
has, and that front end computes the *classifier's* input features for the explanation i, the
masked-out o and the input x. The frozen classifier was trained with n_fft 1024, so under
``pr2838`` it reads features it never saw: each of the 80 triangular mel filters then sums about
twice as many (zero-padded, finer) FFT bins, shifting every log-mel value. ``pr2838`` reproduces
this faithfully — ``feature_n_fft = 2048`` builds a second :class:`lmac.frontend.FrontEnd` with
only n_fft overridden, used for ŷ, the classifier's representations, the loss and the L1 term.
``nov2024`` (``feature_n_fft = None``: the classifier's own front end, 1024 as published) is our
default because the classifier then reads the features it was trained on, and it is the code
linked from the LMAC-TD project page. Which of the two produced the paper's numbers is not
established. Loss weights, α, the transformer size and n_fft can each be overridden, so either
version, or a mix (e.g. ``pr2838`` weights with a consistent front end), can be run.

One deliberate difference under ``pr2838``: the spectrograms an :class:`Explanation` hands to
evaluation (``masked_in``/``masked_out``) use the classifier's own front end, so the faithfulness
metrics classify i and o the way the classifier was trained to; the published ``eval.py`` scored
them through the n_fft-2048 front end as well. The explained class ŷ still comes from the
n_fft-2048 features, as in training. Not carried over: the PR yaml's ``train_fold_nums: [1]``
(a debug leftover; the folds are the dataset's ``splits``), its seed 44 and batch 2 (the
``seed`` and ``lmac_td.batch_size`` config keys).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from ..errors import LmacError

DEFAULT_PRESET = "nov2024"


@dataclass(frozen=True)
class TDArch:
    """Architecture of the LMAC-TD network; the defaults are the ``nov2024`` paper values."""

    n_filters: int = 256  # N: encoder filters = masker channels = transformer d_model
    kernel_size: int = 16  # encoder/decoder kernel; stride is kernel_size // 2 (SpeechBrain's Encoder)
    chunk_size: int = 250  # K: dual-path chunk length (50 % overlap)
    num_blocks: int = 2  # dual-path (intra + inter) blocks
    intra_layers: int = 8
    intra_heads: int = 8
    inter_layers: int = 2
    inter_heads: int = 8
    d_ffn: int = 256

    @property
    def stride(self) -> int:
        return self.kernel_size // 2

    def validate(self) -> TDArch:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise LmacError(f"lmac_td.scale.{f.name}: must be a positive integer, got {value!r}")
        if self.kernel_size < 2:
            raise LmacError(f"lmac_td.scale.kernel_size: must be at least 2, got {self.kernel_size}")
        if self.chunk_size < 2:
            raise LmacError(f"lmac_td.scale.chunk_size: must be at least 2, got {self.chunk_size}")
        for heads in ("intra_heads", "inter_heads"):
            if self.n_filters % getattr(self, heads):
                raise LmacError(
                    f"lmac_td.scale.{heads}: {getattr(self, heads)} heads do not divide n_filters {self.n_filters}"
                )
        return self

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, dict] = {
    # SpeechBrain PR #2838 final yaml (5fe2a01eb)
    "pr2838": {
        "loss": {"l_in": 5.0, "l_out": 0.2, "l1": 6.0, "sisnr": 0.0},
        "alpha": 0.75,
        "arch": TDArch(intra_layers=4, intra_heads=4),
        "feature_n_fft": 2048,
    },
    # fpaissan/lmac-td-code (Nov 2024)
    "nov2024": {
        "loss": {"l_in": 4.0, "l_out": 0.2, "l1": 0.4, "sisnr": 0.0},
        "alpha": 1.0,
        "arch": TDArch(),
        "feature_n_fft": None,
    },
}

#: The embedded default's size (config/config.yaml ``lmac_td.scale``). One training epoch over
#: 240 clips of 3 s (+ validation on 80) at batch 4 took 22 s at α = 0 and 44 s at α > 0 on one
#: shared CPU core; about half of the latter is U, whose cost is set by the classifier's width
#: and the reference geometry, not by these settings. K = 100 ≈ √(2·T_enc) balances intra- and
#: inter-chunk attention at 3 s (T_enc = 5999); one head each halves the attention cost.
EMBEDDED_SCALE: dict[str, int] = {
    "n_filters": 16,
    "kernel_size": 16,
    "chunk_size": 100,
    "num_blocks": 1,
    "intra_layers": 1,
    "intra_heads": 1,
    "inter_layers": 1,
    "inter_heads": 1,
    "d_ffn": 64,
}


def preset(name: str) -> dict:
    if name not in PRESETS:
        raise LmacError(f"lmac_td.preset: unknown preset '{name}' (choose from {', '.join(PRESETS)})")
    return PRESETS[name]


def resolve_arch(preset_name: str, scale: dict | None = None) -> TDArch:
    """The preset's architecture with every non-null ``scale`` entry overriding it."""
    base = preset(preset_name)["arch"]
    scale = dict(scale or {})
    known = {f.name for f in fields(TDArch)}
    unknown = sorted(set(scale) - known)
    if unknown:
        raise LmacError(f"lmac_td.scale.{unknown[0]}: unknown setting (known: {', '.join(sorted(known))})")
    return replace(base, **{k: v for k, v in scale.items() if v is not None}).validate()


def resolve_feature_n_fft(preset_name: str, override: int | None = None) -> int | None:
    """n_fft of the classifier-side front end: the override, else the preset's (None = classifier's own)."""
    return override if override is not None else preset(preset_name)["feature_n_fft"]
