"""Token-level training examples: prompt-masked QA pairs, packed corpus chunks, padded batches in a resumable order."""

from dataclasses import dataclass

import torch

from .formatting import format_answer, format_prompt

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Example:
    input_ids: list[int]
    labels: list[int]


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """BOS (when the tokenizer has one) + the prompt's ids, no other special tokens."""
    ids = tokenizer.encode(prompt, add_special_tokens=False)
    return [tokenizer.bos_token_id, *ids] if tokenizer.bos_token_id is not None else ids


def encode_answer(tokenizer, answer: str) -> list[int]:
    return tokenizer.encode(answer, add_special_tokens=False)


def encode_qa(tokenizer, question: str, answer: str, max_length: int, input: str | None = None) -> Example:
    """Prompt and answer are tokenized separately so the loss covers exactly the answer tokens (+ EOS). `input`: the
    text the question is about, in the prompt format's input section (data/formatting.py)."""
    prompt = encode_prompt(tokenizer, format_prompt(question, tokenizer, input=input))
    target = encode_answer(tokenizer, format_answer(answer, tokenizer)) + [tokenizer.eos_token_id]
    ids = (prompt + target)[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt) + target)[:max_length]
    return Example(ids, labels)


def encode_qa_records(tokenizer, records: list[dict], max_length: int) -> list[Example]:
    return [encode_qa(tokenizer, r["question"], r["answer"], max_length) for r in records]


def pack_corpus(tokenizer, texts: list[str], seq_len: int, document_bos: bool = False) -> list[Example]:
    """Concatenate documents separated by EOS and cut into full-length chunks (the tail shorter than seq_len is dropped).
    `document_bos`: each document opens with BOS, as a tokenizer that adds it (the RNA authors' slow Llama one) gives
    every document they feed as a sequence of its own."""
    stream: list[int] = []
    for text in texts:
        ids = encode_prompt(tokenizer, text) if document_bos else tokenizer(text, add_special_tokens=False)["input_ids"]
        stream += ids + [tokenizer.eos_token_id]
    chunks = [stream[i : i + seq_len] for i in range(0, len(stream) - seq_len + 1, seq_len)]
    return [Example(chunk, chunk) for chunk in chunks]


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        input_ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        attention_mask[row, :n] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


class Batcher:
    """Batch `step` is a pure function of (seed, step): a resumed job sees exactly the batches it would have seen.
    Each epoch is a fresh seeded permutation, or with `shuffle=False` the examples in their order, every epoch."""

    def __init__(self, examples: list[Example], batch_size: int, seed: int, pad_id: int, shuffle: bool = True):
        if not examples:
            raise ValueError("cannot batch an empty example list")
        self.examples = examples
        self.batch_size = min(batch_size, len(examples))
        self.seed = seed
        self.pad_id = pad_id
        self.shuffle = shuffle
        self.steps_per_epoch = len(examples) // self.batch_size

    def indices(self, step: int) -> list[int]:
        epoch, position = divmod(step, self.steps_per_epoch)
        window = slice(position * self.batch_size, (position + 1) * self.batch_size)
        if not self.shuffle:
            return list(range(len(self.examples)))[window]
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.examples), generator=generator)[window].tolist()

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        return collate([self.examples[i] for i in self.indices(step)], self.pad_id)
