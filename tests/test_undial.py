"""UNDIAL (objectives/undial.py) against hand-computed values on a 3-token vocabulary, and one short run."""

import copy
import math

import pytest
import torch

from robust_unlearning.data.examples import IGNORE_INDEX, encode_qa
from robust_unlearning.models.factory import save_atomically
from robust_unlearning.objectives.base import METHODS, UnlearnContext
from robust_unlearning.objectives.losses import sequence_logprob
from robust_unlearning.objectives.undial import adjusted_target, undial_loss
from robust_unlearning.train.unlearn import unlearn
from robust_unlearning.unlearning_registry import registered

from .helpers import FixedLogits, memorise, tiny_model, tiny_tokenizer

# One sequence of four tokens: position 0 is the prompt's (it predicts a −100 label), positions 1 and 2 predict
# the answer tokens 1 and 0, position 3 predicts nothing.
LABELS = torch.tensor([[IGNORE_INDEX, IGNORE_INDEX, 1, 0]])
STUDENT = torch.tensor([[[5.0, -3.0, 2.0], [0.2, -0.4, 1.1], [0.0, 0.5, -0.5], [-1.0, 4.0, 0.0]]])
REFERENCE = torch.tensor([[[-2.0, 6.0, 1.0], [1.0, 3.0, 0.5], [2.0, 0.0, -1.0], [0.0, 0.0, 7.0]]])
BETA = 2.0


def log_normaliser(logits: list[float]) -> float:
    return math.log(sum(math.exp(z) for z in logits))


# Position 1: θ0's (1, 3, 0.5) less β = 2 on token 1 is (1, 1, 0.5), so q = (e, e, e^0.5) / (2e + e^0.5);
# the student's log-probabilities are (0.2, −0.4, 1.1) − log(e^0.2 + e^−0.4 + e^1.1).
Q1_NORMALISER = 2 * math.exp(1.0) + math.exp(0.5)
LOG_Z1 = log_normaliser([0.2, -0.4, 1.1])
CE1 = (
    -(math.exp(1.0) * (0.2 - LOG_Z1) + math.exp(1.0) * (-0.4 - LOG_Z1) + math.exp(0.5) * (1.1 - LOG_Z1)) / Q1_NORMALISER
)
# Position 2: θ0's (2, 0, −1) less β = 2 on token 0 is (0, 0, −1), so q = (1, 1, e^−1) / (2 + e^−1);
# the student's log-probabilities are (0, 0.5, −0.5) − log(1 + e^0.5 + e^−0.5).
Q2_NORMALISER = 2 + math.exp(-1.0)
LOG_Z2 = log_normaliser([0.0, 0.5, -0.5])
CE2 = -(1 * (0.0 - LOG_Z2) + 1 * (0.5 - LOG_Z2) + math.exp(-1.0) * (-0.5 - LOG_Z2)) / Q2_NORMALISER
EXPECTED_FORGET = (CE1 + CE2) / 2


def test_hand_values_are_what_they_claim():
    assert EXPECTED_FORGET == pytest.approx(1.2279757, abs=1e-6)


def test_undial_loss_by_hand_over_two_answer_tokens():
    loss = undial_loss(STUDENT, REFERENCE, LABELS, beta=BETA)
    assert loss.item() == pytest.approx(EXPECTED_FORGET, abs=1e-6)


def test_adjusted_target_only_shrinks_the_true_token_by_e_to_the_beta():
    target = adjusted_target(torch.tensor([[1.0, 3.0, 0.5]]), torch.tensor([1]), beta=BETA)[0]
    assert target.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert (target[1] / target[0]).item() == pytest.approx(math.exp(3.0 - 2.0 - 1.0), rel=1e-6)
    assert (target[0] / target[2]).item() == pytest.approx(math.exp(0.5), rel=1e-6)  # θ0's odds, untouched


def test_prompt_and_unlabelled_positions_contribute_nothing():
    student = STUDENT.clone().requires_grad_()
    other_student, other_reference = STUDENT.clone(), REFERENCE.clone()
    for position in (0, 3):  # the prompt position and the last one (no next token)
        other_student[0, position] = torch.tensor([-9.0, 30.0, 4.0])
        other_reference[0, position] = torch.tensor([12.0, -5.0, 0.0])
    assert undial_loss(other_student, other_reference, LABELS, BETA).item() == pytest.approx(EXPECTED_FORGET, abs=1e-6)
    undial_loss(student, REFERENCE, LABELS, BETA).backward()
    assert student.grad[0, 0].abs().sum().item() == 0.0
    assert student.grad[0, 3].abs().sum().item() == 0.0
    assert student.grad[0, 1].abs().sum().item() > 0.0
    # A batch with no answer token has no forget signal, not 0/0.
    assert undial_loss(STUDENT, REFERENCE, torch.full((1, 4), IGNORE_INDEX), BETA).item() == 0.0


def test_without_adjustment_distilling_into_itself_costs_the_reference_entropy():
    # θ0's next-token distribution softmax(0, ln 2, ln 3) = (1/6, 2/6, 3/6); its entropy is the least the
    # cross-entropy to it can be, reached at θ = θ0.
    logits = torch.tensor([[[0.0, math.log(2.0), math.log(3.0)], [0.0, 0.0, 0.0]]])
    entropy = (1 / 6) * math.log(6.0) + (2 / 6) * math.log(3.0) + (3 / 6) * math.log(2.0)
    loss = undial_loss(logits, logits.clone(), torch.tensor([[IGNORE_INDEX, 2]]), beta=0.0)
    assert loss.item() == pytest.approx(entropy, abs=1e-6)
    assert entropy == pytest.approx(1.0114043, abs=1e-6)


def test_method_adds_the_weighted_retain_term():
    registered()
    batch = {"input_ids": torch.tensor([[0, 2, 1, 0]]), "attention_mask": torch.ones(1, 4, dtype=torch.long)}
    batch["labels"] = LABELS
    hparams = {"beta": BETA, "retain_term": "nll", "retain_weight": 0.5}
    ctx = UnlearnContext(model=FixedLogits(STUDENT.clone()), reference=FixedLogits(REFERENCE.clone()), hparams=hparams)
    loss, logs = METHODS.get("undial").loss(ctx, {"forget": batch, "retain": batch})
    # Retain NLL of the same answer tokens under the student: −log p(1) at position 1, −log p(0) at position 2.
    retain_nll = (-(-0.4 - LOG_Z1) - (0.0 - LOG_Z2)) / 2
    assert logs["forget_loss"] == pytest.approx(EXPECTED_FORGET, abs=1e-6)
    assert logs["retain_loss"] == pytest.approx(retain_nll, abs=1e-6)
    assert loss.item() == pytest.approx(EXPECTED_FORGET + 0.5 * retain_nll, abs=1e-6)


def test_undial_is_registered_and_asks_for_the_frozen_reference():
    registered()
    method = METHODS.get("undial")
    assert method.streams == ("forget", "retain")
    assert method.uses_reference({"retain_term": "nll"})


FORGET = [{"question": "Where was Ana Velo born?", "answer": "Ana Velo was born in Tarsh."}]
RETAIN = [{"question": "Where does the red fox live?", "answer": "The red fox lives in the northern forest."}]


@pytest.fixture
def one_thread():
    # On a loaded 2-core machine two intra-op threads make these tiny steps much slower (tests/test_objectives.py).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_undial_lowers_the_forget_probability(tmp_path, one_thread):
    registered()
    tokenizer = tiny_tokenizer()
    model = memorise(tiny_model(tokenizer), tokenizer, FORGET + RETAIN)
    save_atomically(model, tokenizer, tmp_path / "model")
    example = encode_qa(tokenizer, FORGET[0]["question"], FORGET[0]["answer"], 64)

    def forget_logprob(m) -> float:
        with torch.no_grad():
            logits = m(input_ids=torch.tensor([example.input_ids])).logits
        return sequence_logprob(logits, torch.tensor([example.labels]))[0].item()

    optimization = {
        "epochs": 4,
        "batch_size": 1,
        "learning_rate": 5e-3,
        "weight_decay": 0.0,
        "warmup_ratio": 0.0,
        "grad_clip": 1.0,
        "log_every": 1,
        "checkpoint_every": 1000,
    }
    logged = []
    unlearned = unlearn(
        model_dir=tmp_path / "model",
        forget=FORGET,
        retain=RETAIN,
        idk_answers=[],
        method="undial",
        hparams={"beta": 10.0, "retain_term": "nll", "retain_weight": 1.0},
        defenses={},
        optimization=optimization,
        seed=0,
        device="cpu",
        max_length=64,
        out_dir=None,
        resume_file=tmp_path / "resume.pt",
        log=lambda m, s: logged.append(m),
        model=copy.deepcopy(model),
    )
    assert forget_logprob(unlearned) < forget_logprob(model) - 1.0
    assert all("forget_loss" in m and "retain_loss" in m for m in logged)
