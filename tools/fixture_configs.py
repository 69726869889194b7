"""The fixtures tools/make_fixtures.py makes: Hub-style configs and the table FIXTURES.

Each fixture is a tiny random-weight model of one family, named by its directory under testdata/.
Reference fixtures (llama3, qwen3, gemma3, llama4, mistral, qwen2) hold f32 weights plus a bf16/
copy; GPU fixtures (gpu/<family>) hold bf16 weights only, with head dims the CUDA kernels take.
See testdata/README.md for the tables of what each exercises.
"""

from dataclasses import dataclass

from transformers import (Gemma3ForCausalLM, Gemma3ForConditionalGeneration, Llama4ForCausalLM,
                          Llama4ForConditionalGeneration, LlamaForCausalLM, MistralForCausalLM,
                          Qwen2ForCausalLM, Qwen3ForCausalLM)


@dataclass(frozen=True)
class WindowCheck:
    """HF must honour the window: rebuilt with `overrides`, the logits of the longest prompt equal
    the fixture's on rows < `window` (those queries see every key either way) and differ at row
    `window` (which pins the boundary: HF's query q sees keys k > q - W, or k // C == q // C).
    Also used for Llama 4's temperature tuning, which starts at position floor_scale - 1."""
    what: str
    overrides: dict
    window: int


@dataclass(frozen=True)
class Fixture:
    family: str            # model family: init rules and expected.json's "family"
    cls: type
    config: dict           # Hub-style (transformers 4.x) config.json, written as is
    seed: int              # prompts come from this seed, weights from seed + attempt
    prompt_lengths: tuple
    gpu: bool = False      # False: f32 + bf16/ (two shards); True: bf16 only, at the top level
    shards: int = 2        # bf16 shards (1: a single model.safetensors, no index)
    layer_types: tuple = None      # asserted equal to HF's config.layer_types when given
    window_checks: tuple = ()
    # Re-seed unless every greedy run has at least min_distinct distinct tokens and repeats no
    # token more than max_run times in a row: tied-embedding models tend to echo one token, and a
    # window full of one token makes a window off-by-one in decode hard to see.
    min_distinct: int = 0
    max_run: int = None
    out_gain: float = None  # o_proj / down_proj init gain (None: fixture_lib.OUT_GAIN, 6)
    container: bool = False  # a *ForConditionalGeneration container (fixture_container.py)


# Reference fixtures: hidden 64, 4 query heads, head_dim 32 unless said otherwise. The sizes are
# tiny; the feature switches are those of the real checkpoints, with a few values shrunk so the
# short fixtures exercise them (see testdata/README.md).
REFERENCE_PROMPT_LENGTHS = (5, 19, 40)  # 19 and 40 cross the window / chunk of 8 during prefill

LLAMA3 = {
    # Llama 3.1 style, untied, with the llama3 rope scaling. original_max_position_embeddings is
    # 64 (real: 8192) so that, with head_dim 32, the unscaled, smoothed and scaled frequency bands
    # are all present and matter at these short lengths. attention_bias on (q/k/v AND o_proj get
    # biases in HF's LlamaAttention) to cover that option.
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "attention_bias": True,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "head_dim": 32,
    "hidden_act": "silu",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 96,
    "max_position_embeddings": 512,
    "mlp_bias": False,
    "num_attention_heads": 4,
    "num_hidden_layers": 3,
    "num_key_value_heads": 2,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 8.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 64,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": 256,
}

QWEN3 = {
    # Qwen3-0.6B style: tied embeddings, per-head q/k RMSNorm.
    "architectures": ["Qwen3ForCausalLM"],
    "model_type": "qwen3",
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "head_dim": 32,
    "hidden_act": "silu",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 96,
    "max_position_embeddings": 512,
    "max_window_layers": 3,
    "num_attention_heads": 4,
    "num_hidden_layers": 3,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000.0,
    "sliding_window": None,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 288,
}

GEMMA3 = {
    # gemma-3 text style: 6 layers with sliding_window_pattern 6 -> layers 0-4 slide (window 8),
    # layer 5 is global. Global RoPE 1e6 with linear scaling x8 (as gemma-3-4b and up), local 1e4.
    # query_pre_attn_scalar 48 != head_dim 32 so the scale is observable. MQA (1 kv head).
    "architectures": ["Gemma3ForCausalLM"],
    "model_type": "gemma3_text",
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": None,
    "bos_token_id": 2,
    "cache_implementation": "hybrid",
    "eos_token_id": 1,
    "final_logit_softcapping": None,
    "head_dim": 32,
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 96,
    "max_position_embeddings": 512,
    "num_attention_heads": 4,
    "num_hidden_layers": 6,
    "num_key_value_heads": 1,
    "pad_token_id": 0,
    "query_pre_attn_scalar": 48,
    "rms_norm_eps": 1e-06,
    "rope_local_base_freq": 10000.0,
    "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
    "rope_theta": 1000000.0,
    "sliding_window": 8,
    "sliding_window_pattern": 6,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": 320,
}

LLAMA4 = {
    # Llama-4-Scout text style: 4 layers; no_rope_layers defaults to NoPE every 4th layer
    # (layer 3: full attention, no RoPE, temperature tuning), layers 0-2 chunked (chunk 8) with
    # interleaved RoPE + weightless qk L2 norm. interleave_moe_layer_step 2 -> MoE on layers 1, 3
    # (Maverick style), dense MLP (intermediate_size_mlp) on 0, 2. floor_scale 4 (real: 8192) so
    # the temperature tuning is active at these lengths. rope_scaling as Scout's (llama3 type with
    # low_freq_factor == high_freq_factor: an empty smoothing band), original_max 64.
    "architectures": ["Llama4ForCausalLM"],
    "model_type": "llama4_text",
    "attention_bias": False,
    "attention_chunk_size": 8,
    "attention_dropout": 0.0,
    "attn_scale": 0.1,
    "attn_temperature_tuning": True,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "floor_scale": 4,
    "head_dim": 32,
    "hidden_act": "silu",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "interleave_moe_layer_step": 2,
    "intermediate_size": 32,
    "intermediate_size_mlp": 96,
    "max_position_embeddings": 512,
    "num_attention_heads": 4,
    "num_experts_per_tok": 2,
    "num_hidden_layers": 4,
    "num_key_value_heads": 2,
    "num_local_experts": 4,
    "output_router_logits": False,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 16.0,
        "high_freq_factor": 1.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 64,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "router_aux_loss_coef": 0.001,
    "router_jitter_noise": 0.0,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
    "use_cache": True,
    "use_qk_norm": True,
    "vocab_size": 352,
}

MISTRAL = {
    # Mistral-7B-v0.1 style (GQA, no biases, untied, sliding_window set: MistralModel then uses
    # the sliding-window mask, and generate's cache sliding layers, on EVERY layer), window 8 (real:
    # 4096); rope_theta 1e6 (v0.2+); explicit head_dim 32 != hidden / heads = 16 (Mistral-Nemo
    # style: 5120 / 32 heads, head_dim 128).
    "architectures": ["MistralForCausalLM"],
    "model_type": "mistral",
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "head_dim": 32,
    "hidden_act": "silu",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 96,
    "max_position_embeddings": 512,
    "num_attention_heads": 4,
    "num_hidden_layers": 3,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-05,
    "rope_theta": 1000000.0,
    "sliding_window": 8,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": 240,
}

QWEN2 = {
    # Qwen2.5-0.5B style: q/k/v projections with bias, o_proj without, tied embeddings, theta 1e6,
    # no head_dim key (head_dim = hidden / heads = 16). use_sliding_window with max_window_layers 2
    # of 4: layers 0-1 full attention, layers 2-3 slide (window 8; HF: layer i slides iff
    # i >= max_window_layers).
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 96,
    "max_position_embeddings": 512,
    "max_window_layers": 2,
    "num_attention_heads": 4,
    "num_hidden_layers": 4,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 8,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "use_cache": True,
    "use_sliding_window": True,
    "vocab_size": 272,
}

# GPU fixtures: head dims the CUDA kernels take (64, 128, 256), window / chunk 16, prompts that
# cross them in prefill and decode, every size a multiple of 64. testdata has a budget (~8 MB for
# issues 15 and 16 together), so hidden is 64 (the q and o projections, hidden x Hq * D, are most
# of the weights) and vocab 256 (the logits, 216 rows x vocab x 4 bytes, are the rest).
GPU_PROMPT_LENGTHS = (7, 40, 100)


def gpu_config(base, **changes):
    """A GPU fixture's Hub config: `base` with `changes`, stored as bf16."""
    c = dict(base, **changes)
    c["torch_dtype"] = "bfloat16"
    return c


GPU_LLAMA3 = gpu_config(  # GQA 4 (8 q heads / 2 kv heads), head_dim 128, llama3 rope, biases
    LLAMA3, hidden_size=64, head_dim=128, num_attention_heads=8, num_key_value_heads=2,
    num_hidden_layers=2, intermediate_size=128, vocab_size=256)
GPU_QWEN3 = gpu_config(  # GQA 8 (16 q heads / 2 kv heads), head_dim 128, q/k norms
    QWEN3, hidden_size=64, head_dim=128, num_attention_heads=16, num_key_value_heads=2,
    num_hidden_layers=2, max_window_layers=2, intermediate_size=128, vocab_size=256)
GPU_GEMMA3 = gpu_config(  # head_dim 256, GQA 2 (2 q heads / 1 kv head), window 16, 5 local + 1
    GEMMA3, hidden_size=64, head_dim=256, num_attention_heads=2, num_key_value_heads=1,
    intermediate_size=128, query_pre_attn_scalar=192, sliding_window=16, vocab_size=256)
GPU_LLAMA4 = gpu_config(  # head_dim 64, chunk 16, top-1 of 4 experts + shared, NoPE layer 3
    LLAMA4, hidden_size=64, head_dim=64, num_attention_heads=4, num_key_value_heads=2,
    attention_chunk_size=16, floor_scale=8, num_experts_per_tok=1, intermediate_size=64,
    intermediate_size_mlp=128, vocab_size=256)

FIXTURES = {
    "llama3": Fixture("llama3", LlamaForCausalLM, LLAMA3, 1000, REFERENCE_PROMPT_LENGTHS),
    "qwen3": Fixture("qwen3", Qwen3ForCausalLM, QWEN3, 2000, REFERENCE_PROMPT_LENGTHS),
    "gemma3": Fixture("gemma3", Gemma3ForCausalLM, GEMMA3, 3000, REFERENCE_PROMPT_LENGTHS),
    "llama4": Fixture("llama4", Llama4ForCausalLM, LLAMA4, 4000, REFERENCE_PROMPT_LENGTHS),
    "mistral": Fixture(
        "mistral", MistralForCausalLM, MISTRAL, 5000, REFERENCE_PROMPT_LENGTHS,
        min_distinct=6, max_run=7,
        window_checks=(WindowCheck("sliding_window null", {"sliding_window": None}, 8),)),
    "qwen2": Fixture(
        "qwen2", Qwen2ForCausalLM, QWEN2, 6000, REFERENCE_PROMPT_LENGTHS,
        layer_types=("full_attention",) * 2 + ("sliding_attention",) * 2,
        min_distinct=6, max_run=7, out_gain=12.0,  # with 6, 1 seed in 40 avoids echo runs
        window_checks=(WindowCheck("use_sliding_window false", {"use_sliding_window": False}, 8),
                       WindowCheck("all layers slide", {"max_window_layers": 0}, 8))),
    "gpu/llama3": Fixture("llama3", LlamaForCausalLM, GPU_LLAMA3, 11000, GPU_PROMPT_LENGTHS,
                          gpu=True, shards=1, min_distinct=6),
    "gpu/qwen3": Fixture("qwen3", Qwen3ForCausalLM, GPU_QWEN3, 12000, GPU_PROMPT_LENGTHS,
                         gpu=True, shards=1, min_distinct=6),
    "gpu/gemma3": Fixture(
        "gemma3", Gemma3ForCausalLM, GPU_GEMMA3, 13000, GPU_PROMPT_LENGTHS, gpu=True, shards=1,
        layer_types=("sliding_attention",) * 5 + ("full_attention",),
        min_distinct=6, max_run=15,
        window_checks=(WindowCheck("window 4096", {"sliding_window": 4096}, 16),)),
    "gpu/llama4": Fixture(
        "llama4", Llama4ForCausalLM, GPU_LLAMA4, 14000, GPU_PROMPT_LENGTHS, gpu=True, shards=2,
        layer_types=("chunked_attention",) * 3 + ("full_attention",),
        min_distinct=6, max_run=15,
        window_checks=(
            WindowCheck("chunk 4096", {"attention_chunk_size": 4096}, 16),
            WindowCheck("no temperature tuning", {"attn_temperature_tuning": False}, 7))),
}
# The text model inside the multimodal containers real Gemma 3 (4B+) and Llama 4 checkpoints ship
# as (issue 21): the reference text configs inside text_config, a tiny vision tower beside them.
FIXTURES["containers/gemma3"] = Fixture("gemma3", Gemma3ForConditionalGeneration, GEMMA3, 21000,
                                        (5, 19), container=True)
FIXTURES["containers/llama4"] = Fixture("llama4", Llama4ForConditionalGeneration, LLAMA4, 22000,
                                        (5, 19), container=True)
