"""The two streams every method uses: the forget and retain records as token examples.

QA records (TOFU) become prompt-masked QA examples; text records (WMDP corpora) become packed
chunks, so the same methods run on both benchmark families.

Forget topics (P1). With `hparams["forget_topics"] == "alternate"` the forget stream is one packed stream per
`subject` of the forget records, in the order the records list them (WMDP: bio, then cyber), and step s draws
topic s mod K at that topic's own step s div K, as the RNA authors' `topic_idx = idx % len(forget_data_list)`.
Its batches carry the topic's index and subject, so that a method keeps one control vector per topic (RMU, RSV)
and weighs its retain term per topic. "pooled" packs every forget record into one stream (the TOFU tracks; the
topics of a packed chunk mix). A forget corpus of one topic gives the pooled stream's batches either way.
The retain stream stays one stream with a fresh batch every step (the authors reuse one wikitext batch for the
two topic steps of a round).

Corpus order and BOS (P1). `hparams["corpus_order"] == "file"` serves every stream's examples in their order (the
records' file order, no shuffle), as the RNA authors' `forget_data_list[topic_idx][batch_idx]`; "shuffled" (the
default) a seeded permutation per epoch. `hparams["document_bos"]` opens each packed document with BOS, as their
tokenizer does to each document it encodes.
"""

from ..data.examples import Batcher, Example, encode_qa_records, pack_corpus
from .base import STREAMS, StreamSources


def records_to_examples(tokenizer, records: list[dict], max_length: int, hparams: dict) -> list[Example]:
    if records and "text" in records[0]:
        return pack_corpus(tokenizer, [r["text"] for r in records], max_length, hparams.get("document_bos", False))
    return encode_qa_records(tokenizer, records, max_length)


@STREAMS.register("forget")
def forget_stream(tokenizer, sources: StreamSources, hparams: dict) -> list[Example] | dict[str, list[Example]]:
    if hparams.get("forget_topics", "pooled") == "pooled":
        return records_to_examples(tokenizer, sources.forget, sources.max_length, hparams)
    if any("subject" not in r for r in sources.forget):
        raise ValueError(
            "config key 'p1.forget_topics': 'alternate' needs forget records with a 'subject' (WMDP corpora); use 'pooled'"
        )
    subjects = dict.fromkeys(r["subject"] for r in sources.forget)
    return {
        s: records_to_examples(tokenizer, [r for r in sources.forget if r["subject"] == s], sources.max_length, hparams)
        for s in subjects
    }


@STREAMS.register("retain")
def retain_stream(tokenizer, sources: StreamSources, hparams: dict) -> list[Example]:
    return records_to_examples(tokenizer, sources.retain, sources.max_length, hparams)


class AlternatingBatcher:
    """Batch `step` of K topic streams: topic step mod K at its position step div K, each a resumable Batcher."""

    def __init__(self, topics: dict[str, list[Example]], batch_size: int, seed: int, pad_id: int, shuffle: bool = True):
        self.subjects = list(topics)
        self.batchers = [Batcher(examples, batch_size, seed, pad_id, shuffle) for examples in topics.values()]
        # An epoch passes over every topic's chunks once, so `epochs` means about as many steps as when pooled.
        self.steps_per_epoch = sum(b.steps_per_epoch for b in self.batchers)

    def batch(self, step: int) -> dict:
        topic = step % len(self.batchers)
        return {
            **self.batchers[topic].batch(step // len(self.batchers)),
            "topic": topic,
            "subject": self.subjects[topic],
        }


def stream_batcher(
    examples: list[Example] | dict[str, list[Example]], batch_size: int, seed: int, pad_id: int, shuffle: bool = True
):
    """A Batcher for one stream, an AlternatingBatcher for a stream built per topic."""
    if isinstance(examples, dict):
        return AlternatingBatcher(examples, batch_size, seed, pad_id, shuffle)
    return Batcher(examples, batch_size, seed, pad_id, shuffle)


def topic_of(batch: dict) -> tuple[int, str | None]:
    """(index, subject) of a forget batch; a pooled stream is topic 0 without a subject."""
    return batch.get("topic", 0), batch.get("subject")


def per_topic(value, subject: str | None, key: str):
    """A setting given as one number, or per forget topic as {subject: number} (the authors' "20,50")."""
    if not isinstance(value, dict):
        return value
    if subject is None:
        raise ValueError(
            f"config key {key!r} is set per forget topic ({value}), but the forget stream is pooled: set p1.forget_topics: alternate"
        )
    if subject not in value:
        raise ValueError(f"config key {key!r} has no value for forget topic {subject!r}: {value}")
    return value[subject]
