"""LMAC-TD: a SepFormer-style mask in a learned encoder space, decoded straight to a waveform.

Pipeline (the reference's ``train_lmactd.py``), for a waveform x [B, L]:

1. the frozen classifier reads x through the *feature* front end (the classifier's own, or an
   n_fft-overridden copy for the ``pr2838`` preset, see :mod:`.lmac_td_presets`): ŷ and
   hs = (x6, x5, x4, x3);
2. encoder E: Conv1d(1→N, kernel 16, stride 8, no bias) + ReLU → [B, N, T_enc];
3. U upsamples hs onto the same grid (:mod:`.lmac_td_parts`);
4. z = (1 − α)·E(x) + α·U(hs). α = 0 never builds U (the classifier only supplies ŷ); α = 1
   feeds U alone to the masker (E is still needed to apply the mask);
5. dual-path masker → M ∈ (0, 1)^{N×T_enc};
6. decoder D: ConvTranspose1d(N→1, kernel 16, stride 8): explanation i = D(E(x) ⊙ M), masked-out
   o = D(E(x) ⊙ (1 − M)), zero-padded (≤ stride − 1 samples) or cropped to exactly L samples.

Because D is linear, i + o = D(E(x)) exactly: the two are a split of the encoder's resynthesis.

**The spectrogram fields of an :class:`Explanation`.** As in the reference, the faithfulness
metrics classify what the listener hears: ``masked_in`` = log1p|STFT(i)| and ``masked_out`` =
log1p|STFT(o)|, with the classifier's own front end (so ``classifier.classify_logspec`` reads
them directly). LMAC-TD's mask lives in a learned basis, not on the STFT grid, so ``mask`` is
defined from those two spectrograms as the share of each bin's log-magnitude the explanation
keeps:

    mask = log1p|I| / (log1p|I| + log1p|O|)      (0 where both vanish)

It is in [0, 1] by construction, is 1 where the explanation carries everything the masked-out
part does not, ½ where the two split a bin evenly, and reduces to L-MAC's mask in the L-MAC
setting where log1p|I| = M·log1p|X| and log1p|O| = (1 − M)·log1p|X|. So sparsity/complexity
scores and figures read a map of the same meaning for every method. (The reference scores
SPS/COMP on log1p|STFT(i)| itself, an unbounded quantity; that is ``masked_in`` here.)
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from speechbrain.lobes.models.dual_path import Decoder, Encoder

from ..checkpoints import (
    building_from,
    check_state_dict,
    load_checkpoint,
    load_torch_file,
    load_weights,
    save_checkpoint,
    stored_config,
)
from ..classifier.model import AudioClassifier
from ..errors import LmacError
from ..frontend import FrontEnd
from .base import Explainer, Explanation
from .lmac_td_autoencoder import KIND as ED_KIND
from .lmac_td_parts import TDUpsampler, build_masker, fit_to_encoder
from .lmac_td_presets import DEFAULT_PRESET, EMBEDDED_SCALE, TDArch, preset, resolve_arch, resolve_feature_n_fft

KIND = "lmac_td"
WHAT = "an LMAC-TD"  # in messages about its checkpoints
ED_WHAT = "an LMAC-TD encoder/decoder"


@dataclass
class TDOutput:
    explanation: torch.Tensor  # i [B, L]
    masked_out: torch.Tensor  # o [B, L]
    mask: torch.Tensor  # M [B, N, T_enc] in the encoder space
    target: torch.Tensor  # [B] class explained
    logits: torch.Tensor  # classifier logits on x (feature front end)


def fit_length(wav: torch.Tensor, length: int) -> torch.Tensor:
    """Crop or zero-pad [B, L'] at the end to [B, length]."""
    wav = wav[..., :length]
    return F.pad(wav, (0, length - wav.shape[-1])) if wav.shape[-1] < length else wav


def kept_share(logspec_in: torch.Tensor, logspec_out: torch.Tensor) -> torch.Tensor:
    """log1p|I| / (log1p|I| + log1p|O|), 0 where the denominator vanishes."""
    total = logspec_in + logspec_out
    return torch.where(total > 0, logspec_in / total.clamp_min(torch.finfo(total.dtype).tiny), torch.zeros_like(total))


TARGETS = ("classifier", "features")


class LmacTD(nn.Module):
    """The LMAC-TD network around a frozen classifier; ``forward(wav, target) -> TDOutput``."""

    def __init__(
        self,
        classifier: AudioClassifier,
        arch: TDArch | None = None,
        alpha: float = 1.0,
        feature_n_fft: int | None = None,
        preset_name: str = DEFAULT_PRESET,
        target_from: str = "classifier",
    ):
        super().__init__()
        if target_from not in TARGETS:
            raise LmacError(f"lmac_td.target_from: unknown value '{target_from}' (classifier or features)")
        self.target_from = target_from
        if not 0.0 <= float(alpha) <= 1.0:
            raise LmacError(f"lmac_td.alphas: α must be in [0, 1], got {alpha}")
        self.arch = (arch or TDArch()).validate()
        self.alpha, self.preset_name = float(alpha), preset_name
        # a plain attribute, not a submodule: the classifier is frozen and saved separately
        object.__setattr__(self, "classifier", classifier)
        self.feature_n_fft = feature_n_fft
        cfg = classifier.frontend.cfg
        # pr2838: the classifier reads n_fft-2048 features (a submodule: its buffers follow .to())
        self.feature_frontend = FrontEnd(replace(cfg, n_fft=feature_n_fft) if feature_n_fft else cfg)
        n = self.arch.n_filters
        self.encoder = Encoder(kernel_size=self.arch.kernel_size, out_channels=n)
        self.upsampler = TDUpsampler(classifier.width) if self.alpha > 0 else None
        self.masker = build_masker(self.arch)
        self.decoder = Decoder(
            in_channels=n, out_channels=1, kernel_size=self.arch.kernel_size, stride=self.arch.stride, bias=False
        )

    # -- pieces, public so tests and the trainer can reach them -------------------------------

    def classify(self, wav: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """The classifier's logits and representations for waveforms, via the feature front end."""
        return self.classifier.net(self.feature_frontend.features(wav))

    def masker_input(self, encoded: torch.Tensor, hs) -> torch.Tensor:
        """z = (1 − α)·E(x) + α·U(hs), computing only the paths α needs."""
        if self.alpha == 0.0:
            return encoded
        u = fit_to_encoder(self.upsampler(hs), encoded.shape[1], encoded.shape[2])
        return u if self.alpha == 1.0 else (1 - self.alpha) * encoded + self.alpha * u

    def decode(self, encoded: torch.Tensor, length: int) -> torch.Tensor:
        return fit_length(self.decoder(encoded).reshape(encoded.shape[0], -1), length)

    def forward(self, wav: torch.Tensor, target: torch.Tensor | None = None) -> TDOutput:
        if wav.dim() != 2:
            raise LmacError(f"LMAC-TD expects waveforms [B, L], got {list(wav.shape)}")
        if wav.shape[1] < self.arch.kernel_size:
            raise LmacError(f"LMAC-TD needs at least {self.arch.kernel_size} samples, got {wav.shape[1]}")
        with torch.no_grad():  # frozen: hs are inputs to U, no gradient flows into the classifier
            logits, hs = self.classify(wav)
        if target is None:
            target = logits.argmax(-1)
        encoded = self.encoder(wav)
        mask = self.masker(self.masker_input(encoded, hs))[0]
        explanation = self.decode(encoded * mask, wav.shape[1])
        masked_out = self.decode(encoded * (1 - mask), wav.shape[1])
        return TDOutput(explanation, masked_out, mask, target, logits)

    # -- pretrained encoder/decoder -------------------------------------------------------------

    def load_encoder_decoder(self, path: str | Path, freeze: bool = True) -> None:
        """Load E and D from an LMAC-TD checkpoint or a SpeechBrain folder; optionally freeze them.

        ``path`` is either an lmac ``lmac_td`` or ``lmac_td_ed`` checkpoint (the latter written by
        :mod:`.lmac_td_autoencoder`; both hold ``encoder.*``/``decoder.*`` weights) or a folder with SpeechBrain's ``encoder.ckpt`` and ``decoder.ckpt`` state
        dicts (e.g. a SepFormer's, as the reference's ``pretrained_ed_path``).
        """
        path = Path(path)
        if path.is_dir():
            sources = {
                name: (path / f"{name}.ckpt", load_torch_file(path / f"{name}.ckpt")) for name in ("encoder", "decoder")
            }
        else:
            payload = load_checkpoint(path, (KIND, ED_KIND))
            state = payload.get("state_dict")
            if payload["kind"] == ED_KIND or not isinstance(state, dict):
                # an lmac_td_ed file holds E and D only, so any other weight means it is not ours
                check_state_dict(
                    path,
                    state,
                    {f"{n}.{k}": v for n in ("encoder", "decoder") for k, v in getattr(self, n).state_dict().items()},
                    ED_WHAT,
                )
            sources = {
                name: (path, {k[len(name) + 1 :]: v for k, v in state.items() if k.startswith(name + ".")})
                for name in ("encoder", "decoder")
            }
        for name, (source, state) in sources.items():
            module = getattr(self, name)
            load_weights(source, module, state, ED_WHAT, prefix=f"{name} ")
            module.requires_grad_(not freeze)


class LmacTDExplainer(LmacTD, Explainer):
    """LMAC-TD behind the common :class:`Explainer` interface, with lmac checkpoints."""

    name = "lmac_td"
    class_conditional = False  # the masker reads E(x) and hs, not a class: it explains the prediction

    def decision(self, wav: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        """``target_from: features`` explains what the classifier decides on the feature front end's input
        (pr2838: n_fft 2048, as the reference); ``classifier``, its decision on its own features."""
        if self.target_from == "classifier":
            return prediction
        with torch.no_grad():
            return self.classify(wav)[0].argmax(-1)

    def explain(self, wav: torch.Tensor, target: torch.Tensor | None = None) -> Explanation:
        with torch.no_grad():
            out = self(wav, target)
            frontend = self.classifier.frontend
            logspec = frontend.log_spectrogram(wav)
            masked_in = frontend.log_spectrogram(out.explanation)
            masked_out = frontend.log_spectrogram(out.masked_out)
            return Explanation(
                logspec, kept_share(masked_in, masked_out), masked_in, masked_out, out.target, out.explanation
            )

    def config(self) -> dict:
        return {
            "preset": self.preset_name,
            "alpha": self.alpha,
            "arch": self.arch.to_dict(),
            "feature_n_fft": self.feature_n_fft,
            "width": self.classifier.width,
            "target_from": self.target_from,
        }

    def save(self, path, meta: dict | None = None) -> None:
        save_checkpoint(path, KIND, self.config(), self.state_dict(), meta)

    @classmethod
    def load(cls, path, classifier: AudioClassifier, payload: dict | None = None) -> LmacTDExplainer:
        """The explainer in checkpoint ``path`` (``payload``: its content, when already read)."""
        payload = payload if payload is not None else load_checkpoint(path, KIND)
        # every arch field: a default filled in for a missing one would build a network of another size
        cfg = stored_config(
            path,
            payload,
            ("preset", "alpha", "feature_n_fft", "width", *(f"arch.{f.name}" for f in fields(TDArch))),
            WHAT,
        )
        if cfg["width"] != classifier.width:
            raise LmacError(
                f"{path}: LMAC-TD was trained for a width-{cfg['width']} classifier, "
                f"this classifier has width {classifier.width}"
            )
        with building_from(path, WHAT):
            model = cls(
                classifier,
                TDArch(**cfg["arch"]),
                cfg["alpha"],
                cfg["feature_n_fft"],
                cfg["preset"],
                # checkpoints from before the switch explained the classifier's own decision
                payload["config"].get("target_from", "classifier"),
            )
        load_weights(path, model, payload.get("state_dict"), WHAT)
        return model.to(next(classifier.parameters()).device).eval()


def build_lmac_td(
    classifier: AudioClassifier,
    scale: str | dict | None = "embedded",
    preset_name: str = DEFAULT_PRESET,
    alpha: float | None = None,
    feature_n_fft: int | None = None,
    target_from: str = "classifier",
) -> LmacTDExplainer:
    """An untrained LMAC-TD explainer: ``scale`` is ``"embedded"``, ``"paper"`` (= the preset's
    values, as ``None``) or a ``lmac_td.scale`` dict; ``alpha``/``feature_n_fft`` default to the preset's."""
    if isinstance(scale, str):
        if scale not in ("embedded", "paper"):
            raise LmacError(f"lmac_td scale '{scale}': use 'embedded', 'paper' or a dict of settings")
        scale = EMBEDDED_SCALE if scale == "embedded" else None
    arch = resolve_arch(preset_name, scale)
    alpha = preset(preset_name)["alpha"] if alpha is None else alpha
    n_fft = resolve_feature_n_fft(preset_name, feature_n_fft)
    return LmacTDExplainer(classifier, arch, alpha, n_fft, preset_name, target_from)
