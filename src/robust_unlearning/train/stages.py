"""Pre-training and fine-tuning: the two stages that make the models every paper track starts from.

pretrain: the embedded default's from-scratch model learns the world corpus (base model); with
model.world_pretraining a pre-trained model continues pre-training on it instead.
finetune: the base model memorises TOFU-style QA: `full` gives the target model, a retain
split gives the retain-only oracle that forget quality compares against.
"""

from pathlib import Path

from ..config import micro_batch_size
from ..data.examples import Batcher, encode_qa_records, pack_corpus
from ..data.formatting import keep_chat_template
from ..data.io import read_jsonl
from ..models.factory import build_model, load_model, load_tokenizer, resolve_device, save_atomically
from ..models.forward import causal_lm_loss
from ..models.lora import attach_lora, merge_lora
from ..models.tokenizer import train_tokenizer
from .distributed import save_on_main
from .loop import batch_count, fingerprint, set_determinism, train


def pretrain(
    config: dict, corpus_file: Path, tokenizer_texts: list[str], out_dir: Path, resume_file: Path, log
) -> dict:
    settings = config["pretrain"]
    set_determinism(config["seed"])
    texts = [record["text"] for record in read_jsonl(corpus_file)]
    source = config["model"]["source"]
    if source == "scratch":
        # Its own tokenizer has no template: alpaca marks it with one; plain leaves it as it is.
        tokenizer = keep_chat_template(
            train_tokenizer(texts + tokenizer_texts, config["tokenizer"]["vocab_size"]),
            config["model"]["prompt_format"],
            source,
        )
        model = build_model(config["model"]["architecture"], tokenizer)
    else:
        # model.world_pretraining: a pre-trained model keeps its tokenizer and continues pre-training on the world.
        tokenizer, model = (
            keep_chat_template(load_tokenizer(source), config["model"]["prompt_format"], source),
            load_model(source, "cpu"),
        )
    model = model.to(resolve_device(config["device"]))
    batcher = Batcher(
        pack_corpus(tokenizer, texts, settings["seq_len"]),
        micro_batch_size(settings),
        config["seed"],
        tokenizer.pad_token_id,
    )

    def objective(step: int):
        return causal_lm_loss(model, batcher.batch(step)), {}

    params = {"pretrain": settings, "model": config["model"], "seed": config["seed"]}
    final = train(
        model,
        objective,
        batch_count(settings, batcher.steps_per_epoch),
        settings,
        resume_file,
        fingerprint(params),
        log,
    )
    save_atomically(model, tokenizer, out_dir)
    return {"n_parameters": sum(p.numel() for p in model.parameters()), "n_sequences": len(batcher.examples), **final}


def finetune(
    config: dict, base_dir: Path, qa_file: Path, corpus_file: Path, out_dir: Path, resume_file: Path, log
) -> dict:
    """Fine-tune the base model on `qa_file` and save it; launched on `finetune.distributed` ranks, each runs this
    and rank 0 saves (train/distributed.py)."""
    settings = config["finetune"]
    set_determinism(config["seed"])
    tokenizer = load_tokenizer(base_dir)
    model = load_model(base_dir, config["device"])
    if settings["lora"]["enabled"]:
        model = attach_lora(model, settings["lora"])
    qa = Batcher(
        encode_qa_records(tokenizer, read_jsonl(qa_file), settings["max_length"]),
        max(1, round(micro_batch_size(settings) * (1 - settings["replay_ratio"]))),
        config["seed"],
        tokenizer.pad_token_id,
    )
    replay_ratio = settings["replay_ratio"]
    replay = None
    if replay_ratio > 0:
        texts = [record["text"] for record in read_jsonl(corpus_file)]
        replay = Batcher(
            pack_corpus(tokenizer, texts, settings["max_length"] // 2),
            max(1, round(micro_batch_size(settings) * replay_ratio)),
            config["seed"] + 1,
            tokenizer.pad_token_id,
        )

    def objective(step: int):
        qa_loss = causal_lm_loss(model, qa.batch(step))
        if replay is None:
            return qa_loss, {"qa_loss": qa_loss.item()}
        replay_loss = causal_lm_loss(model, replay.batch(step))
        loss = (1 - replay_ratio) * qa_loss + replay_ratio * replay_loss
        return loss, {"qa_loss": qa_loss.item(), "replay_loss": replay_loss.item()}

    params = {"finetune": settings, "base": str(base_dir), "qa_file": str(qa_file), "seed": config["seed"]}
    final = train(
        model, objective, batch_count(settings, qa.steps_per_epoch), settings, resume_file, fingerprint(params), log
    )
    save_on_main(merge_lora(model), tokenizer, out_dir)
    return {"n_qa": len(qa.examples), **final}


def import_base(config: dict, out_dir: Path) -> dict:
    """A hub, local or GGUF pre-trained model becomes the base checkpoint unchanged, so every later rule reads one layout.

    GGUF weights are dequantised here once; later rules load the saved safetensors.
    """
    source = config["model"]["source"]
    tokenizer = keep_chat_template(load_tokenizer(source), config["model"]["prompt_format"], source)
    model = load_model(source, "cpu")
    save_atomically(model, tokenizer, out_dir)
    return {"n_parameters": sum(p.numel() for p in model.parameters())}
