"""P4's ascent tricks (objectives/tricks.py): temperature scaling and token-selective ascent, on hand values."""

import math

import pytest
import torch

from robust_unlearning.objectives.base import UnlearnContext
from robust_unlearning.objectives.ga import ascent_term
from robust_unlearning.objectives.losses import mean_nll
from robust_unlearning.objectives.tricks import ascent_nll, selective_mean, tempered_token_nll

# One sequence: a prompt token, then answer tokens 0 and 1 (vocabulary {0, 1}).
# Position 0 predicts token 0 with logits [ln 3, 0] → p = 3/4; position 1 predicts token 1 with logits [0, 0] → p = 1/2.
LOGITS = torch.tensor([[[math.log(3), 0.0], [0.0, 0.0], [5.0, -5.0]]])
LABELS = torch.tensor([[-100, 0, 1]])


def test_tempered_token_nll_by_hand():
    nll, mask = tempered_token_nll(LOGITS, LABELS, 1.0)
    assert mask.tolist() == [[True, True]]
    assert nll[0].tolist() == pytest.approx([math.log(4 / 3), math.log(2)])
    nll, _ = tempered_token_nll(LOGITS, LABELS, 2.0)
    # T = 2: logits [ln √3, 0] → p(0) = √3 / (√3 + 1); the uniform position stays at ln 2.
    assert nll[0].tolist() == pytest.approx([math.log((math.sqrt(3) + 1) / math.sqrt(3)), math.log(2)])


def test_plain_settings_equal_mean_nll():
    assert ascent_nll(LOGITS, LABELS, {}).item() == pytest.approx(mean_nll(LOGITS, LABELS).item())
    assert ascent_nll(LOGITS, LABELS, {}).item() == pytest.approx((math.log(4 / 3) + math.log(2)) / 2)


def test_token_selective_keeps_the_lowest_loss_fraction():
    values = torch.tensor([[0.5, 2.0, 1.0, 3.0]], requires_grad=True)
    mask = torch.tensor([[True, True, True, False]])  # the 3.0 is padding
    # n = 3 labelled tokens: q = 0.5 keeps ⌈1.5⌉ = 2 lowest (0.5, 1.0); q = 0.2 keeps ⌈0.6⌉ = 1; q = 1 all three.
    assert selective_mean(values, mask, 0.5).item() == pytest.approx(0.75)
    assert selective_mean(values, mask, 0.2).item() == pytest.approx(0.5)
    assert selective_mean(values, mask, 1.0).item() == pytest.approx(3.5 / 3)
    selective_mean(values, mask, 0.5).backward()
    assert values.grad.tolist() == [[0.5, 0.0, 0.5, 0.0]]  # only the selected tokens are ascended


def test_both_tricks_together_by_hand():
    hparams = {"ascent_temperature": 2.0, "ascent_token_fraction": 0.5}
    # ⌈0.5 · 2⌉ = 1 token kept: the tempered NLL of position 0 (lower than ln 2).
    assert ascent_nll(LOGITS, LABELS, hparams).item() == pytest.approx(math.log((math.sqrt(3) + 1) / math.sqrt(3)))


def test_bad_trick_values_are_named():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        tempered_token_nll(LOGITS, LABELS, 0.0)
    with pytest.raises(ValueError, match=r"q must be in \(0, 1\]"):
        selective_mean(torch.ones(1, 2), torch.ones(1, 2, dtype=torch.bool), 1.5)


class FixedLogits(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(1.0))

    def forward(self, input_ids, attention_mask=None):
        return type("Out", (), {"logits": LOGITS * self.scale})()


def test_ascent_term_reads_the_tricks_from_hparams():
    model, batch = (
        FixedLogits(),
        {"input_ids": torch.zeros(1, 3, dtype=torch.long), "attention_mask": torch.ones(1, 3), "labels": LABELS},
    )
    plain, logs = ascent_term(UnlearnContext(model=model, reference=None, hparams={}), batch)
    assert plain.item() == pytest.approx(-(math.log(4 / 3) + math.log(2)) / 2)
    assert logs["forget_loss"] == pytest.approx(-plain.item())
    tempered, _ = ascent_term(
        UnlearnContext(model=model, reference=None, hparams={"ascent_temperature": 2.0, "ascent_token_fraction": 0.5}),
        batch,
    )
    assert tempered.item() == pytest.approx(-math.log((math.sqrt(3) + 1) / math.sqrt(3)))
