#!/usr/bin/env python3
"""Make testdata/tokenizers/qwen3-tiny: a byte-level BPE tokenizer with the 288-token vocabulary
of the tiny qwen3 fixture model (testdata/qwen3), so the CLI and engine can be tested on text
end to end without a real checkpoint: 3 special tokens (ids 0-2: <|endoftext|>, <|im_start|>,
<|im_end|>), the 256 byte-level symbols, and 29 merges trained by Hugging Face `tokenizers` on a
fixed English text. tokenizer_config.json carries Qwen 3's real chat template (as the Qwen3
checkpoints ship it); generation_config.json names id 33 as EOS, a token the fixture model
generates greedily after four steps from its first prompt (testdata/qwen3/expected.json), so
"EOS stops generation" is observable.

Re-run (deterministic):  .venv-fixtures/bin/python tools/make_test_tokenizer.py
"""
import json
import os

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "tokenizers", "qwen3-tiny")
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "The quick brown fox jumps over the lazy dog. " * 4,
    "Paged attention reads the blocks of the cache where they lie, through the block table. " * 3,
    "Hello world! This is a test of the tokenizer, the engine and the command line. " * 3,
]
# Qwen3's chat template, as in the chat_template of Qwen/Qwen3-0.6B's tokenizer_config.json.
QWEN3_TEMPLATE_SOURCE = os.path.join(ROOT, "tools", "qwen3_chat_template.jinja")


def main():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=288, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    assert tok.get_vocab_size() == 288, tok.get_vocab_size()
    os.makedirs(OUT, exist_ok=True)
    tok.save(os.path.join(OUT, "tokenizer.json"))
    with open(QWEN3_TEMPLATE_SOURCE) as f:
        template = f.read()
    config = {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
              "model_max_length": 512, "tokenizer_class": "PreTrainedTokenizerFast",
              "chat_template": template}
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "generation_config.json"), "w") as f:
        json.dump({"eos_token_id": [33, 2], "pad_token_id": 0}, f, indent=2)
        f.write("\n")
    print("wrote", OUT, "ids of 'Hello world':", tok.encode("Hello world").ids)


if __name__ == "__main__":
    main()
