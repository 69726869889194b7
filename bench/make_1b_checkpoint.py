#!/usr/bin/env python3
"""A Llama-3.2-1B-shaped checkpoint with random bf16 weights (for the CPU decode benchmark).

    python3 bench/make_1b_checkpoint.py OUT_DIR        # needs numpy (e.g. .venv-gguf)

Llama 3.2 1B's config (hidden 2048, 16 layers, 32 heads, 8 kv heads, head_dim 64, MLP 8192,
vocab 128256, tied embeddings, llama3 RoPE scaling), weights normal / sqrt(fan_in) rounded to
bf16, one model.safetensors (2.5 GB). Written with numpy in ~1 minute; no torch needed.
"""

import json
import os
import struct
import sys

import numpy as np

CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
    "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
    "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256, "rms_norm_eps": 1e-5,
    "max_position_embeddings": 131072, "rope_theta": 500000.0, "tie_word_embeddings": True,
    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "hidden_act": "silu", "torch_dtype": "bfloat16",
}


def tensors():
    c = CONFIG
    H, I, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    q, kv = c["num_attention_heads"] * c["head_dim"], c["num_key_value_heads"] * c["head_dim"]
    yield "model.embed_tokens.weight", (V, H)
    yield "model.norm.weight", (H,)
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (H,)
        yield p + "post_attention_layernorm.weight", (H,)
        yield p + "self_attn.q_proj.weight", (q, H)
        yield p + "self_attn.k_proj.weight", (kv, H)
        yield p + "self_attn.v_proj.weight", (kv, H)
        yield p + "self_attn.o_proj.weight", (H, q)
        yield p + "mlp.gate_proj.weight", (I, H)
        yield p + "mlp.up_proj.weight", (I, H)
        yield p + "mlp.down_proj.weight", (H, I)


def bf16(x):
    b = x.astype(np.float32).view(np.uint32)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    json.dump(CONFIG, open(os.path.join(out, "config.json"), "w"), indent=1)
    header, offset = {}, 0
    specs = list(tensors())
    for name, shape in specs:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    rng = np.random.default_rng(0)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name, shape in specs:
            if len(shape) == 1:
                x = 1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)
            else:
                x = rng.standard_normal(shape, dtype=np.float32) / np.sqrt(shape[1])
            f.write(bf16(x).tobytes())
    print("wrote", out, offset / 1e9, "GB")


if __name__ == "__main__":
    main()
