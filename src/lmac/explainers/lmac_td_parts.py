"""LMAC-TD's building blocks: the classifier-side decoder U and the sigmoid SepFormer masker.

**U** (the reference's ``CNN14PSI_encoderdecoder(dim=2048, outdim=1)``) has exactly the wiring
of the L-MAC decoder — t1(x6) + t2(x5) → t3 + t4(x4) → t5 + t6(x3) → t7 → t8 → t9, ReLU after
t1…t7 — only the kernels, strides and channel counts differ. So :class:`TDUpsampler` inherits
:class:`lmac.explainers.lmac_decoder.LmacDecoder`'s ``forward`` (and with it the crop/pad
fitting at each sum that lets any clip length through) and only declares its own nine layers.
Channels follow the CNN14 channel each one mirrors (2048→C6, 1024→C5, 512→C4, 256→C3, 128→C2
of :func:`lmac.classifier.cnn14.channels`), so width 1 is the reference (≈139 M parameters) and
a small width is the same code. For a 5 s clip at 80 mels the output is [B, 11082, 256].

**Masker**: SpeechBrain's ``Dual_Path_Model`` ends in a ReLU; PR #2838 patched ``dual_path.py``
with ``activation_type="sigmoid"`` so that the mask lies in (0, 1) and 1 − M is a proper
complement. :class:`SigmoidDualPathModel` subclasses the upstream model and swaps that one
parameter-free module (``self.activation``), so the state-dict keys are the upstream/PR ones.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from speechbrain.lobes.models.dual_path import Dual_Path_Model, SBTransformerBlock

from ..classifier.cnn14 import channels
from .lmac_decoder import LmacDecoder, _fit_last2
from .lmac_td_presets import TDArch


class TDUpsampler(LmacDecoder):
    """U: ``forward(hs=(x6, x5, x4, x3)) -> [B, T_u, F_u]`` (no output nonlinearity)."""

    def __init__(self, width: float = 1.0, emb_dim: int = 2048):
        # nn.Module's constructor, not LmacDecoder's: only the layer geometry differs, and
        # building the L-MAC layers first would allocate ~237 M parameters at width 1
        nn.Module.__init__(self)
        self.width = width
        _, c2, c3, c4, c5, c6 = channels(width, emb_dim)
        self.channels = (c2, c3, c4, c5, c6)
        # (in, out, kernel (t, f), stride, padding) exactly as CNN14PSI_encoderdecoder(dim=2048)
        self.convt1 = nn.ConvTranspose2d(c6, c4, 7, (3, 2), 1)
        self.convt2 = nn.ConvTranspose2d(c5, c4, 7, (3, 2), 1)
        self.convt3 = nn.ConvTranspose2d(c4, c4, (12, 11), (3, 2), 1)
        self.convt4 = nn.ConvTranspose2d(c4, c4, (7, 7), (5, 4), 1)
        self.convt5 = nn.ConvTranspose2d(c4, c3, 7, (2, 2), 1)
        self.convt6 = nn.ConvTranspose2d(c3, c3, (7, 11), (5, 4), (2, 1))
        self.convt7 = nn.ConvTranspose2d(c3, c3, (4, 3), (2, 2), (0, 5))
        self.convt8 = nn.ConvTranspose2d(c3, c2, (10, 7), (3, 1), (4, 2))
        self.convt9 = nn.ConvTranspose2d(c2, 1, (8, 10), (7, 3), 0)
        self.nonl = nn.ReLU(True)


def fit_to_encoder(u: torch.Tensor, n_filters: int, n_frames: int) -> torch.Tensor:
    """U's output [B, T_u, F_u] → the encoder grid [B, n_filters, n_frames].

    Time: cropped (or replicate-padded at the end) to the encoder's frames, as the reference
    crops 11082 → 9999 at 5 s. U's frames are not resampled onto E's: its frame rate is about
    11 % higher, so U frame t sits near input time 0.9·t and its last frames are dropped; the
    learned U absorbs this, and it is the published behaviour. Filters: U's F axis is fixed by
    the mel geometry (256 at 80 mels) and equals N at paper scale (a no-op); a smaller N averages
    neighbouring bins (adaptive average pooling), a larger one repeats them.
    """
    if u.shape[-1] != n_filters:
        u = F.adaptive_avg_pool2d(u.unsqueeze(1), (u.shape[1], n_filters)).squeeze(1)
    return _fit_last2(u.transpose(1, 2).unsqueeze(1), n_filters, n_frames).squeeze(1)


class SigmoidDualPathModel(Dual_Path_Model):
    """SpeechBrain's dual-path (SepFormer) mask network with a sigmoid output, as PR #2838."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.activation = nn.Sigmoid()


def build_masker(arch: TDArch) -> SigmoidDualPathModel:
    """The reference MaskNet: pre-LN transformers with sinusoidal positions, no dropout."""

    def transformer(layers: int, heads: int) -> SBTransformerBlock:
        return SBTransformerBlock(
            num_layers=layers,
            d_model=arch.n_filters,
            nhead=heads,
            d_ffn=arch.d_ffn,
            dropout=0.0,
            use_positional_encoding=True,
            norm_before=True,
        )

    return SigmoidDualPathModel(
        in_channels=arch.n_filters,
        out_channels=arch.n_filters,
        intra_model=transformer(arch.intra_layers, arch.intra_heads),
        inter_model=transformer(arch.inter_layers, arch.inter_heads),
        num_layers=arch.num_blocks,
        norm="ln",
        K=arch.chunk_size,
        num_spks=1,
        skip_around_intra=True,
        linear_layer_after_inter_intra=False,
    )
