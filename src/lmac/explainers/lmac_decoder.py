"""The L-MAC decoder ψ: CNN14 representations → STFT-domain mask logits, with a width multiplier.

At width 1 this is state-dict compatible with SpeechBrain's
``speechbrain.lobes.models.Cnn14.CNN14PSI_stft(dim=2048)`` (attributes ``convt1``..``convt9``,
same shapes, ReLU after convt1..7, none after convt8/convt9) and gives the same output on the
same weights and inputs. At width ``w`` every channel count is the CNN14 channel count it
mirrors (2048→C6, 1024→C5, 512→C4, 256→C3 of :func:`lmac.classifier.cnn14.channels`), so a
width-``w`` decoder reads a width-``w`` CNN14's ``hs = (x6, x5, x4, x3)``. One code path serves
the paper scale and the tiny CPU scale.

Why the fitting: the reference decoder only runs when the upsampled deep path and the skip path
have equal sizes at each sum, which holds for a 5 s / 16 kHz clip (431 frames) but not for most
other lengths (the floors of CNN14's pooling do not invert exactly). So at every sum the deep
path is cropped, or replicate-padded at the end, to the skip tensor's (T, F) size. At lengths
where the reference works the fitting is a no-op and outputs are identical to SpeechBrain's.
The output still has its own frame count (8·⌊T/8⌋ + 1 at 80 mels, e.g. 425 for 431 frames), so
:func:`fit_frames` maps it onto the input spectrogram.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..classifier.cnn14 import channels
from ..errors import LmacError

FIT_MODES = ("pad", "reference")


def _fit_last2(x: torch.Tensor, size_t: int, size_f: int) -> torch.Tensor:
    """Crop, or replicate-pad at the end, the last two dims of a 4-D tensor to (size_t, size_f)."""
    x = x[..., :size_t, :size_f]
    pad_t, pad_f = size_t - x.shape[-2], size_f - x.shape[-1]
    if pad_t or pad_f:
        # replicate, not zeros: the mask near the end of the clip continues the last values
        # instead of forcing a spurious "off" (or, after the sigmoid, 0.5) band
        if torch.compiler.is_compiling():
            # the same copies without replication_pad2d, whose backward inductor (torch 2.11, CPU) miscompiles
            x = torch.cat([x, x[..., -1:].expand(*x.shape[:-1], pad_f)], -1)
            return torch.cat([x, x[..., -1:, :].expand(*x.shape[:-2], pad_t, x.shape[-1])], -2)
        x = F.pad(x, (0, pad_f, 0, pad_t), mode="replicate")
    return x


def fit_frames(logits: torch.Tensor, n_frames: int, n_freqs: int, mode: str = "pad") -> torch.Tensor:
    """Map decoder mask logits ``[B, T_out, F_out]`` onto an input of ``n_frames`` × ``n_freqs``.

    ``mode="pad"``: crop or replicate-pad (at the end) to exactly ``[B, n_frames, n_freqs]`` so
    the mask covers every STFT frame and bin of the input.

    ``mode="reference"``: as the SpeechBrain recipe, keep the decoder's own frame count and crop
    the *input* side instead: the result is ``[B, min(T_out, n_frames), n_freqs]`` and the caller
    crops its spectrogram to ``result.shape[1]`` frames (the reference drops the last 6 of 431
    frames at 5 s). The frequency axis is fitted to ``n_freqs`` in both modes (a no-op at 80 mels
    and n_fft 1024, where F_out = 513).
    """
    if mode not in FIT_MODES:
        raise LmacError(f"fit_frames: unknown mode '{mode}' (pad or reference)")
    if logits.dim() != 3:
        raise LmacError(f"fit_frames expects mask logits [B, T, F], got {list(logits.shape)}")
    if mode == "reference":
        n_frames = min(logits.shape[1], n_frames)
    return _fit_last2(logits.unsqueeze(1), n_frames, n_freqs).squeeze(1)


class LmacDecoder(nn.Module):
    """ψ: ``forward(hs=(x6, x5, x4, x3)) -> mask logits [B, T_out, F_out]`` (no sigmoid)."""

    def __init__(self, width: float = 1.0, emb_dim: int = 2048):
        super().__init__()
        self.width = width
        _, _, c3, c4, c5, c6 = channels(width, emb_dim)
        self.channels = (c3, c4, c5, c6)
        # (in, out, kernel (t, f), stride, padding) exactly as CNN14PSI_stft(dim=2048), with
        # dim→C6, dim//2→C5, dim//4→C4, dim//8→C3; names convt1..9 are the checkpoint keys
        self.convt1 = nn.ConvTranspose2d(c6, c6, 3, (2, 4), 1)
        self.convt2 = nn.ConvTranspose2d(c5, c6, 3, (2, 4), 1)
        self.convt3 = nn.ConvTranspose2d(c6, c6, (7, 4), (2, 4), 1)
        self.convt4 = nn.ConvTranspose2d(c4, c6, (5, 4), (2, 4), 1)
        self.convt5 = nn.ConvTranspose2d(c6, c5, (3, 5), (2, 2), 1)
        self.convt6 = nn.ConvTranspose2d(c3, c5, (3, 3), (2, 4), 1)
        self.convt7 = nn.ConvTranspose2d(c5, c4, (4, 3), (2, 2), (0, 5))
        self.convt8 = nn.ConvTranspose2d(c4, c3, (3, 4), (2, 2), (0, 2))
        self.convt9 = nn.ConvTranspose2d(c3, 1, (1, 5), (1, 4), 0)
        # in place, as the reference (safe: it only ever follows a transposed convolution)
        self.nonl = nn.ReLU(True)
        # PyTorch's default initialisation, as the reference (it defines no init of its own)

    @staticmethod
    def _sum(deep: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        # deep path fitted to the skip tensor: a no-op where the reference itself runs
        return _fit_last2(deep, skip.shape[-2], skip.shape[-1]) + skip

    def sum_paths(self, hs) -> torch.Tensor:
        """The representations merged and upsampled through convt1..convt7 (shared with L2I's ψ)."""
        if len(hs) != 4:
            raise LmacError(f"{type(self).__name__} expects 4 representations (x6, x5, x4, x3), got {len(hs)}")
        h = self._sum(self.nonl(self.convt1(hs[0])), self.nonl(self.convt2(hs[1])))  # a
        h = self._sum(self.nonl(self.convt3(h)), self.nonl(self.convt4(hs[2])))  # b
        h = self._sum(self.nonl(self.convt5(h)), self.nonl(self.convt6(hs[3])))  # c
        return self.nonl(self.convt7(h))  # d

    def forward(self, hs) -> torch.Tensor:
        h = self.convt8(self.sum_paths(hs))  # e: no nonlinearity, as the reference
        return self.convt9(h)[:, 0]  # f: [B, 1, T, F] → [B, T, F]
