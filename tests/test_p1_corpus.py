"""P1's corpus streams as the RNA authors build them (p1.corpus_order: file, p1.document_bos: true): documents
in file order, unshuffled, each opened by BOS; the embedded default (shuffled, no BOS) unchanged."""

from robust_unlearning.data.examples import Batcher, pack_corpus
from robust_unlearning.objectives.base import STREAMS, StreamSources
from robust_unlearning.objectives.streams import stream_batcher
from robust_unlearning.unlearning_registry import registered

from .helpers import tiny_tokenizer

# The tiny tokenizer: BOS 0, EOS 1; "cat" = [69, 279], "dog" = [70, 81, 73], "a cat" = [67, 223, 69, 279].
DOCUMENTS = ["cat", "dog", "a cat"]


def test_three_documents_packed_in_file_order_with_bos_at_each_start():
    tokenizer = tiny_tokenizer()
    # Stream 0 69 279 1 | 0 70 81 73 1 | 0 67 223 69 279 1 (15 ids): three full chunks of 4, the last 3 ids dropped.
    with_bos = pack_corpus(tokenizer, DOCUMENTS, 4, document_bos=True)
    assert [e.input_ids for e in with_bos] == [[0, 69, 279, 1], [0, 70, 81, 73], [1, 0, 67, 223]]
    assert all(e.labels == e.input_ids for e in with_bos)
    # Without BOS (the default): 69 279 1 | 70 81 73 1 | 67 223 69 279 1, exactly three chunks.
    plain = pack_corpus(tokenizer, DOCUMENTS, 4)
    assert [e.input_ids for e in plain] == [[69, 279, 1, 70], [81, 73, 1, 67], [223, 69, 279, 1]]


def test_file_order_serves_the_chunks_in_order_every_epoch_and_seed():
    tokenizer = tiny_tokenizer()
    chunks = pack_corpus(tokenizer, DOCUMENTS, 4, document_bos=True)
    for seed in (0, 7):
        batcher = Batcher(chunks, 2, seed, tokenizer.pad_token_id, shuffle=False)
        # 3 chunks, batches of 2: one step per epoch, chunks 0 and 1 each time (chunk 2 is the dropped remainder).
        for step in range(3):
            assert batcher.indices(step) == [0, 1]
    assert batcher.batch(0)["input_ids"].tolist() == [[0, 69, 279, 1], [0, 70, 81, 73]]


def test_the_forget_stream_alternates_topics_in_file_order_with_bos():
    registered()
    tokenizer = tiny_tokenizer()
    records = [{"text": t, "subject": "bio"} for t in DOCUMENTS] + [{"text": "dog cat", "subject": "cyber"}]
    sources = StreamSources(forget=records, retain=[], idk_answers=[], seed=3, max_length=4)
    hparams = {"forget_topics": "alternate", "corpus_order": "file", "document_bos": True}
    batcher = stream_batcher(STREAMS.get("forget")(tokenizer, sources, hparams), 1, 3, tokenizer.pad_token_id, False)
    # bio's chunks as above; cyber: BOS, "dog cat" = 70 81 73 223 69 279, EOS → [0, 70, 81, 73], [223, 69, 279, 1].
    expected = [
        ([0, 69, 279, 1], "bio"),
        ([0, 70, 81, 73], "cyber"),
        ([0, 70, 81, 73], "bio"),
        ([223, 69, 279, 1], "cyber"),
    ]
    for step, (ids, subject) in enumerate(expected):
        batch = batcher.batch(step)
        assert (batch["input_ids"].tolist(), batch["subject"]) == ([ids], subject)
