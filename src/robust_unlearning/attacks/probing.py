"""Embedding probing (P4, arXiv 2406.09179): a linear probe reads the forget answers out of a hidden layer.

Unlearning that only disconnects the output head from knowledge still held in the representations leaves
the answers linearly decodable. The probe is a new unembedding W (vocabulary × width) on the RMS-normalised
output of block ℓ, h̃_ℓ = norm(h_ℓ): p(y_t | x, y_<t) = softmax(W h̃_ℓ,t)[y_t], fitted by multinomial logistic
regression (L-BFGS) on every answer token of the attack slice — held-out forget QA, never evaluated — with an
L2 pull towards the model's own unembedding W0, from which it starts:

    min_W  mean_t CE(W h̃_ℓ,t, y_t) + λ ||W − W0||²_F.

The probed model (blocks 0..ℓ, the final norm, W) then answers the evaluated questions like any model, so
the attack yields the same metric table as the clean evaluation; its first-answer-token accuracy on the
evaluated forget questions is not the probe metric: in TOFU-style answers it is usually the author's name, copied
from the question. The probe metric (`probe_accuracy`) is its accuracy on each answer's *key token*, the answer
token that identifies the fact: among the answer tokens absent from the question, the one that occurs in the
fewest answers of the evaluated set (a place, a year, a title; the first on ties), predicted from the true answer
prefix before it. With ℓ the last block and λ → ∞ the probed model is the model itself.
"""

import copy
from collections import Counter

import torch

from ..data.examples import encode_answer, encode_prompt
from ..data.formatting import format_answer, format_prompt
from ..eval.scoring import IGNORE_INDEX, answer_token_logprobs, tokenize_pairs
from ..models.layers import decoder_layers, layer_representation
from .base import RED_TEAM, Attacked, AttackInputs


def resolve_layer(model: torch.nn.Module, layer: int) -> int:
    """Block index; negative counts from the top (−1: the last block)."""
    n_layers = len(decoder_layers(model))
    index = layer + n_layers if layer < 0 else layer
    if not 0 <= index < n_layers:
        raise ValueError(
            f"config key 'p4.attacks.probing.layer': {layer} is not a block of this {n_layers}-block model"
        )
    return index


def probe_features(
    model: torch.nn.Module, tokenizer, records: list[dict], layer: int, batch_size: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """(h̃_ℓ at every position that predicts an answer token [N, d], those answer tokens [N]) for the QA records."""
    features, targets = [], []
    norm = model.model.norm
    with torch.no_grad():
        for start in range(0, len(records), batch_size):
            chunk = records[start : start + batch_size]
            batch = tokenize_pairs(
                tokenizer,
                [format_prompt(r["question"], tokenizer) for r in chunk],
                [format_answer(r["answer"], tokenizer) for r in chunk],
            )
            hidden = norm(layer_representation(model, batch, layer))
            labels = batch["labels"][:, 1:].to(hidden.device)
            is_answer = labels != IGNORE_INDEX
            features.append(hidden[:, :-1][is_answer].float())
            targets.append(labels[is_answer])
    return torch.cat(features), torch.cat(targets)


def fit_linear_probe(
    features: torch.Tensor,
    targets: torch.Tensor,
    n_classes: int,
    init: torch.Tensor | None = None,
    l2: float = 1e-3,
    steps: int = 30,
) -> torch.Tensor:
    """W [n_classes, d] minimising mean CE(W x, y) + l2 · ||W − init||² by L-BFGS (init: zeros if None)."""
    anchor = (
        torch.zeros(n_classes, features.shape[1], device=features.device)
        if init is None
        else init.detach().float().clone()
    )
    weight = anchor.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([weight], lr=1, max_iter=steps, history_size=10, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(features @ weight.T, targets) + l2 * (weight - anchor).square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return weight.detach()


def probe_accuracy(weight: torch.Tensor, features: torch.Tensor, targets: torch.Tensor) -> float:
    return ((features @ weight.T).argmax(-1) == targets).float().mean().item()


def probed_model(model: torch.nn.Module, layer: int, weight: torch.Tensor) -> torch.nn.Module:
    """A copy of `model` that stops after block `layer` and reads its normalised output with W."""
    probed = copy.deepcopy(model)
    # LlamaModel runs `layers[: config.num_hidden_layers]`; the cache is sized from the config too.
    probed.model.layers = probed.model.layers[: layer + 1]
    probed.config.num_hidden_layers = layer + 1
    if getattr(probed.config, "layer_types", None):
        probed.config.layer_types = probed.config.layer_types[: layer + 1]
    head = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False, device=weight.device)
    with torch.no_grad():
        head.weight.copy_(weight)
    probed.lm_head = head
    probed.config.tie_word_embeddings = False
    return probed.eval()


def key_token_positions(tokenizer, records: list[dict]) -> list[int]:
    """Per record, the answer position of its key token: absent from the question, rarest over the records' answers."""
    answers = [encode_answer(tokenizer, format_answer(r["answer"], tokenizer)) for r in records]
    document_frequency = Counter(token for ids in answers for token in set(ids))
    positions = []
    for record, ids in zip(records, answers, strict=True):
        question = set(encode_prompt(tokenizer, format_prompt(record["question"], tokenizer)))
        candidates = [i for i, token in enumerate(ids) if token not in question] or list(range(len(ids)))
        positions.append(min(candidates, key=lambda i: (document_frequency[ids[i]], i)))
    return positions


def key_token_accuracy(
    model: torch.nn.Module, tokenizer, records: list[dict], positions: list[int], batch_size: int = 64
) -> float:
    """Share of records whose key answer token is the model's argmax given the question and the true answer prefix."""
    scores = answer_token_logprobs(
        model,
        tokenizer,
        [format_prompt(r["question"], tokenizer) for r in records],
        [format_answer(r["answer"], tokenizer) for r in records],
        batch_size,
    )
    return sum(bool(s.argmax_match[i]) for s, i in zip(scores, positions, strict=True)) / len(scores)


@RED_TEAM.register("probing")
def probing(inputs: AttackInputs, settings: dict) -> Attacked:
    model, tokenizer = inputs.model, inputs.tokenizer
    layer = resolve_layer(model, settings["layer"])
    train_x, train_y = probe_features(model, tokenizer, inputs.attack_slice, layer)
    unembedding = model.get_output_embeddings().weight
    weight = fit_linear_probe(
        train_x, train_y, unembedding.shape[0], unembedding.to(train_x.device), settings["l2"], settings["steps"]
    )
    probed = probed_model(model, layer, weight.to(unembedding.device))
    positions = key_token_positions(tokenizer, inputs.forget)
    extra = {
        "probe_train_accuracy": probe_accuracy(weight, train_x, train_y),
        "probe_accuracy": key_token_accuracy(probed, tokenizer, inputs.forget, positions),
        "key_token_accuracy_before": key_token_accuracy(model, tokenizer, inputs.forget, positions),
    }
    return Attacked(probed, inputs.forget, inputs.retain, extra)
