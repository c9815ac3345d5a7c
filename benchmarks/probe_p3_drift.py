"""Why Vaccine does not reduce the harmful embedding drift in the embedded default (P3, claim 4): a probe.

Vaccine aligns under a gradient-direction perturbation of fixed norm ρ of the attention outputs (e_1, …, e_L).
A model can meet that objective two ways: by flattening the alignment loss around e (the paper's mechanism, which
should also make the user's fine-tuning drift e less), or by growing ||e|| so that the same ρ is relatively
small. The second is cheap when LoRA's rank is a large share of the width: r = 8 is 6 % of the tiny model's 128
(0.2 % of Llama-2-7B's 4096). For each seed and alignment LoRA rank this prints, for SFT and Vaccine:

- norm: mean ||E(x)|| of the aligned model on the drift examples (the report's "aligned embedding norm");
- gap@ρ: the alignment loss increase under Vaccine's own perturbation of norm ρ, L(e + ε) − L(e), mean over the
  drift examples' batches (what Vaccine minimises; lower = robust);
- gap@rel: the same with ε scaled to ρ · ||e|| / ||e_SFT|| (the perturbation as large against this model's
  embeddings as ρ is against SFT's): if Vaccine's advantage at gap@ρ vanishes here, it came from the scale;
- drift, rel drift, HS: after the user's fine-tuning at p = `--harmful-ratio` (n = p3.n_finetune), as the P3 jobs
  measure them;
- Δloss: the alignment loss on the drift examples after the user's fine-tuning minus before (what the drift is
  feared for: the paper's robustness is that this stays small).

    python benchmarks/probe_p3_drift.py --results results --ranks 8 1 --seeds 0 1 2
    python benchmarks/probe_p3_drift.py --results results --ranks 8 --user-learning-rate 2e-4

`--user-learning-rate` asks whether Vaccine protects against a fine-tuning whose drift is nearer its ρ-ball.

Reads a finished embedded-default run's base model and safety data; writes nothing.
"""

import argparse
import copy
import time
from pathlib import Path

import torch

from robust_unlearning.attacks.harmful_finetune import harmful_mix, user_finetune
from robust_unlearning.config import load_layered
from robust_unlearning.data.examples import collate, encode_qa
from robust_unlearning.defenses.vaccine import perturbation_aware_step
from robust_unlearning.eval.safety import JUDGES, attention_embeddings, embedding_drift, relative_embedding_drift
from robust_unlearning.experiments.p3_vaccine import SafetyData, evaluate
from robust_unlearning.models.factory import load_model, load_tokenizer
from robust_unlearning.models.forward import causal_lm_loss
from robust_unlearning.train.align import align
from robust_unlearning.train.loop import set_determinism


def perturbation_gap(model, batches, rho: float) -> tuple[float, float]:
    """(mean L(e + ε) − L(e) over the batches, ||(e_1, …, e_L)|| of the first batch)."""
    gaps, norm = [], None
    with torch.enable_grad():
        for batch in batches:
            loss, logs = perturbation_aware_step(model, batch, rho)
            gaps.append(loss.item() - logs["unperturbed_loss"])
            norm = norm if norm is not None else logs["attention_output_norm"]
    return sum(gaps) / len(gaps), norm


def alignment_loss(model, batches) -> float:
    with torch.no_grad():
        return sum(causal_lm_loss(model, batch).item() for batch in batches) / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--ranks", type=int, nargs="+", default=[8, 1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--harmful-ratio", type=float, default=0.1)
    parser.add_argument(
        "--user-learning-rate", type=float, help="the user's fine-tuning rate (default p3.user_finetune's)"
    )
    args = parser.parse_args()

    torch.set_num_threads(1)
    p3 = load_layered([])["p3"]
    if args.user_learning_rate is not None:
        p3["user_finetune"] = {**p3["user_finetune"], "learning_rate": args.user_learning_rate}
    base_dir, evaluation = args.results / "models" / "base", p3["evaluation"]
    data = SafetyData.load(args.results / "data" / "safety", p3)
    tokenizer, base = load_tokenizer(base_dir), load_model(base_dir)
    judge = JUDGES.get(p3["judge"])(data.meta, {**p3, "device": "cpu"})
    drift_examples = [
        encode_qa(tokenizer, question=r["prompt"], answer=r["response"], max_length=p3["alignment"]["max_length"])
        for r in data.alignment[: evaluation["drift_examples"]]
    ]
    batches = [collate(drift_examples[i : i + 16], tokenizer.pad_token_id) for i in range(0, len(drift_examples), 16)]
    print("| LoRA r | seed | alignment | norm | gap@ρ | gap@rel | drift | rel drift | Δloss | HS % | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for rank in args.ranks:
        alignment = {**p3["alignment"], "lora": {**p3["alignment"]["lora"], "r": rank, "alpha": 2 * rank}}
        for seed in args.seeds:
            sft_norm = None
            for method in ("sft", "vaccine"):
                started = time.perf_counter()
                set_determinism(seed, 1)
                rho = p3["rho"] if method == "vaccine" else 0.0
                aligned, _ = align(
                    copy.deepcopy(base),
                    tokenizer,
                    data.alignment,
                    method,
                    rho,
                    alignment,
                    seed,
                    Path(f"/tmp/probe_p3_{rank}_{seed}_{method}.pt"),
                    "probe",
                    lambda metrics, step: None,
                )
                gap, norm = perturbation_gap(aligned, batches, p3["rho"])
                sft_norm = sft_norm or norm
                relative_gap, _ = perturbation_gap(aligned, batches, p3["rho"] * norm / sft_norm)
                before = attention_embeddings(aligned, drift_examples, tokenizer.pad_token_id, evaluation["batch_size"])
                mix = harmful_mix(
                    data.task_train,
                    data.harmful,
                    p3["n_finetune"],
                    args.harmful_ratio,
                    seed,
                    data.meta["task_question"],
                    data.meta["label_words"],
                )
                set_determinism(seed, 1)
                attacked, _ = user_finetune(
                    aligned,
                    tokenizer,
                    mix,
                    p3["user_finetune"],
                    seed,
                    Path(f"/tmp/probe_p3_user_{rank}_{seed}_{method}.pt"),
                    "probe",
                    lambda metrics, step: None,
                )
                after = attention_embeddings(attacked, drift_examples, tokenizer.pad_token_id, evaluation["batch_size"])
                hs = evaluate(attacked, tokenizer, data, judge, evaluation)["harmful_score"]
                embedding_norm = torch.stack([e.norm() for e in before]).mean().item()
                print(
                    f"| {rank} | {seed} | {method} | {embedding_norm:.1f} | {gap:.4f} | {relative_gap:.4f} | {embedding_drift(before, after):.2f} | "
                    f"{relative_embedding_drift(before, after):.3f} | {alignment_loss(attacked, batches) - alignment_loss(aligned, batches):+.3f} | {hs:.1f} | {time.perf_counter() - started:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
