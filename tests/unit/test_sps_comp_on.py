"""evaluation.sps_comp_on: SPS/COMP on the map (merged recipe) or on the masked-in spectrogram (PR #2838)."""

import torch

from lmac.classifier.model import AudioClassifier
from lmac.evaluation.metrics import complexity, sparseness
from lmac.evaluation.scoring import reference, score_explanation
from lmac.explainers.lmac_td import build_lmac_td

TINY = {"n_filters": 8, "chunk_size": 50, "num_blocks": 1, "intra_layers": 1, "intra_heads": 1}
TINY.update(inter_layers=1, inter_heads=1, d_ffn=16)


def test_lmac_td_sparsity_and_complexity_on_its_share_or_on_log1p_stft_of_its_explanation():
    torch.manual_seed(0)
    clf = AudioClassifier(["a", "b", "c"], width=0.0625).eval()
    td = build_lmac_td(clf, TINY, "nov2024", 0.75)
    wav = torch.randn(3, 16000) * 0.3
    exp = td.explain(wav)
    ref = reference((), clf, exp.logspec, wav, ["x", "y", "z"], 0, 0)
    zeros = torch.zeros_like(wav)
    on_mask = score_explanation((), clf, exp, wav, wav, zeros, ref)
    on_in = score_explanation((), clf, exp, wav, wav, zeros, ref, sps_comp_on="masked_in")
    heard = clf.frontend.log_spectrogram(exp.waveform)  # log1p|STFT(i)|, the reference's object
    torch.testing.assert_close(on_in["SPS"], sparseness(heard))
    torch.testing.assert_close(on_in["COMP"], complexity(heard))
    torch.testing.assert_close(on_mask["SPS"], sparseness(exp.mask))
    assert not torch.allclose(on_in["SPS"], on_mask["SPS"])
    for key in ("AI", "AD", "FF", "FidIn", "MM"):  # only the two complexity scores move
        torch.testing.assert_close(on_in[key], on_mask[key])
