"""CNN14 (Kong et al. 2020, arXiv:1912.10211) as used by the L-MAC recipe, with a width multiplier.

Why this file exists instead of importing SpeechBrain: SpeechBrain is only a test dependency (a
numerical oracle), and the experiments need the same network at two scales — the paper's CNN14
(width 1, ~80 M parameters) and a tiny CPU-trainable version (e.g. width 1/16). Both come from
the *same* code path: every channel count is ``channels(width)``, nothing else changes.

At width 1 the ``state_dict()`` keys are exactly those of
``speechbrain.lobes.models.Cnn14.Cnn14(mel_bins=80, emb_dim=2048, norm_type="bn",
return_reps=True)``, so the published ``embedding_model.ckpt`` loads with ``strict=True`` and the
forward math (including the in-place ReLUs, the dropout positions and the pooling) is the same.
The only addition to SpeechBrain's module tree is two parameter-free ``nn.ReLU`` modules per
block (SpeechBrain calls ``F.relu_``): Captum's Guided Backprop / Guided Grad-CAM override ReLU
gradients through module hooks and would silently fall back to plain gradients otherwise.

Differences from SpeechBrain's return values, on purpose:

* the embedding is ``[B, C6]`` (SpeechBrain returns ``[B, 1, C6]``);
* :class:`Cnn14Classifier` bundles the linear head and returns ``(logits, hs)``.

``hs = (x6, x5, x4, x3)`` are the outputs of blocks 6, 5, 4, 3 after pooling and before dropout,
the tensors SpeechBrain returns as ``(x1_out, x2_out, x3_out, x4_out)``; the L-MAC decoder
(:mod:`lmac.explainers.lmac_decoder`) reads them in this order.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checkpoints import check_state_dict
from ..errors import LmacError

#: Channel counts of the six conv blocks of the reference CNN14 (block 6 is ``emb_dim``).
BASE_CHANNELS = (64, 128, 256, 512, 1024)

#: Total time/frequency downsampling before block 6 (five 2×2 average pools); the shortest
#: input that leaves at least one frame/bin for block 6.
MIN_FRAMES = 32
MIN_MEL_BINS = 32 // 2


def channels(width: float, emb_dim: int = 2048) -> list[int]:
    """Channel counts of conv blocks 1..6 at ``width``: ``max(1, round(c * width))`` each.

    ``channels(1.0) == [64, 128, 256, 512, 1024, 2048]`` (the reference CNN14);
    ``channels(1/16) == [4, 8, 16, 32, 64, 128]``.
    """
    if not width > 0:
        raise LmacError(f"classifier width must be > 0, got {width}")
    return [max(1, round(c * width)) for c in (*BASE_CHANNELS, emb_dim)]


def init_layer(layer: nn.Module) -> None:
    """Xavier-uniform weights, zero bias (SpeechBrain's ``init_layer``)."""
    nn.init.xavier_uniform_(layer.weight)
    if getattr(layer, "bias", None) is not None:
        layer.bias.data.fill_(0.0)


def init_bn(bn: nn.Module) -> None:
    """Unit scale, zero shift (SpeechBrain's ``init_bn``)."""
    bn.bias.data.fill_(0.0)
    bn.weight.data.fill_(1.0)


def _norm(kind: str, n: int) -> nn.Module:
    # same three options, with the same arguments, as SpeechBrain's ConvBlock / Cnn14
    if kind == "bn":
        return nn.BatchNorm2d(n)
    if kind == "in":
        return nn.InstanceNorm2d(n, affine=True, track_running_stats=True)
    if kind == "ln":
        return nn.GroupNorm(1, n)
    raise LmacError(f"unknown norm_type '{kind}' (bn, in or ln)")


class ConvBlock(nn.Module):
    """Two (3×3 conv without bias → norm → ReLU) layers, then average pooling."""

    def __init__(self, in_channels: int, out_channels: int, norm_type: str = "bn"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False
        )
        self.norm_type = norm_type
        self.norm1 = _norm(norm_type, out_channels)
        self.norm2 = _norm(norm_type, out_channels)
        # modules, not F.relu_, so gradient-override hooks (Guided Backprop) can attach; no state
        self.relu1 = nn.ReLU(inplace=True)
        self.relu2 = nn.ReLU(inplace=True)
        self.init_weight()

    def init_weight(self) -> None:
        init_layer(self.conv1)
        init_layer(self.conv2)
        init_bn(self.norm1)
        init_bn(self.norm2)

    def forward(self, x: torch.Tensor, pool_size: tuple[int, int] = (2, 2)) -> torch.Tensor:
        x = self.relu1(self.norm1(self.conv1(x)))
        x = self.relu2(self.norm2(self.conv2(x)))
        return F.avg_pool2d(x, kernel_size=pool_size)


class Cnn14(nn.Module):
    """CNN14 embedding model; ``forward(feats [B, T, mel_bins]) -> (emb [B, C6], (x6, x5, x4, x3))``.

    Any ``T >= 32`` works (five 2× time poolings must leave one frame for block 6).
    """

    def __init__(
        self, mel_bins: int = 80, emb_dim: int = 2048, width: float = 1.0, norm_type: str = "bn", dropout: float = 0.2
    ):
        super().__init__()
        if mel_bins < MIN_MEL_BINS:
            raise LmacError(f"CNN14 needs at least {MIN_MEL_BINS} mel bins, got {mel_bins}")
        self.mel_bins, self.emb_dim, self.width = mel_bins, emb_dim, width
        self.dropout = dropout
        self.channels = channels(width, emb_dim)
        self.norm_type = norm_type
        self.norm0 = _norm(norm_type, mel_bins)
        c = [1, *self.channels]
        # attribute names conv_block1..6 are the checkpoint keys; do not rename
        self.conv_block1 = ConvBlock(c[0], c[1], norm_type)
        self.conv_block2 = ConvBlock(c[1], c[2], norm_type)
        self.conv_block3 = ConvBlock(c[2], c[3], norm_type)
        self.conv_block4 = ConvBlock(c[3], c[4], norm_type)
        self.conv_block5 = ConvBlock(c[4], c[5], norm_type)
        self.conv_block6 = ConvBlock(c[5], c[6], norm_type)
        init_bn(self.norm0)

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, p=self.dropout, training=self.training)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        x = feats.unsqueeze(1) if feats.dim() == 3 else feats  # [B, 1, T, mel]
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[-1] != self.mel_bins:
            raise LmacError(f"CNN14 expects features [B, T, {self.mel_bins}], got {list(feats.shape)}")
        if x.shape[2] < MIN_FRAMES:
            raise LmacError(f"CNN14 needs at least {MIN_FRAMES} frames, got {x.shape[2]}")
        # norm0 normalises each mel bin: move mel onto the channel axis and back
        x = self.norm0(x.transpose(1, 3)).transpose(1, 3)

        x = self._drop(self.conv_block1(x))
        x = self._drop(self.conv_block2(x))
        x3 = self.conv_block3(x)
        x4 = self.conv_block4(self._drop(x3))
        x5 = self.conv_block5(self._drop(x4))
        x6 = self.conv_block6(self._drop(x5), pool_size=(1, 1))
        x = self._drop(x6)

        x = torch.mean(x, dim=3)  # over frequency  → [B, C6, T']
        emb = torch.max(x, dim=2)[0] + torch.mean(x, dim=2)  # max + mean over time
        return emb, (x6, x5, x4, x3)


def _check_state(
    name: str,
    state: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
    optional_suffixes: tuple[str, ...] = (),
) -> None:
    """Raise a one-line :class:`LmacError` naming the keys of ``state`` that do not fit ``expected``."""
    check_state_dict(
        name,
        state,
        expected,
        "a CNN14",
        optional_suffixes=optional_suffixes,
        hint="SpeechBrain's CNN14 at another width or class count?",
    )


class Cnn14Classifier(nn.Module):
    """CNN14 embedding + linear head; ``forward(feats) -> (logits [B, n_classes], hs)``."""

    def __init__(
        self, n_classes: int, mel_bins: int = 80, width: float = 1.0, emb_dim: int = 2048, dropout: float = 0.2
    ):
        super().__init__()
        self.width = width
        self.embedding_model = Cnn14(mel_bins=mel_bins, emb_dim=emb_dim, width=width, dropout=dropout)
        # SpeechBrain's recipe head is speechbrain.nnet.linear.Linear, i.e. an nn.Linear with
        # PyTorch's default initialisation (stored under "w."; see load_speechbrain)
        self.classifier = nn.Linear(self.embedding_model.channels[-1], n_classes)

    @property
    def channels(self) -> list[int]:
        return self.embedding_model.channels

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        emb, hs = self.embedding_model(feats)
        return self.classifier(emb), hs

    def load_speechbrain(
        self, embedding_state: Mapping[str, torch.Tensor], classifier_state: Mapping[str, torch.Tensor]
    ) -> None:
        """Load SpeechBrain's ``embedding_model.ckpt`` and ``classifier.ckpt`` state dicts.

        The head may be stored as a plain ``nn.Linear`` (``weight``/``bias``) or as SpeechBrain's
        ``Linear`` wrapper (``w.weight``/``w.bias``). Every key and shape is checked first so a
        wrong checkpoint fails with one line naming the first offending key, before any weight
        is overwritten.
        """
        emb_state = dict(embedding_state)
        _check_state(
            "embedding_model", emb_state, self.embedding_model.state_dict(), optional_suffixes=("num_batches_tracked",)
        )
        head_state = {k[2:] if k.startswith("w.") else k: v for k, v in classifier_state.items()}
        _check_state("classifier", head_state, self.classifier.state_dict())
        self.embedding_model.load_state_dict(emb_state, strict=False)
        self.classifier.load_state_dict(head_state, strict=True)
