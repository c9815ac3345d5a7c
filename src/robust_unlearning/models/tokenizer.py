"""Byte-level BPE tokenizer trained on the world corpus, saved as a `PreTrainedTokenizerFast`."""

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    # Byte-level so that any string (a real benchmark's, an attack's noised question) tokenizes without <unk>.
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    # Like Llama's tokenizers, encoding adds BOS by default: every QA example is trained after a BOS, and lm-eval
    # (which encodes with the tokenizer's defaults) then scores the model as it was trained. Our own code
    # always encodes with add_special_tokens=False and prepends the BOS id itself.
    bos = SPECIAL_TOKENS["bos_token"]
    bpe.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, bpe.token_to_id(bos))]
    )
    return PreTrainedTokenizerFast(tokenizer_object=bpe, **SPECIAL_TOKENS)
