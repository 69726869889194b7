#include "model/gguf_checkpoint.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "model/gguf_dequant.h"
#include "model/safetensors.h"

namespace pagedkv {

namespace {

using nlohmann::json;

struct ArchSpec {
  const char* gguf;  // general.architecture
  const char* hf;    // architectures[0]
  const char* model_type;
  bool head_dim_from_rope;  // llama: rope.dimension_count is head_dim
  bool head_dim_from_key;   // gemma3 / qwen3: attention.key_length is head_dim
  bool sliding_window;      // gemma3: attention.sliding_window
};

constexpr ArchSpec kArchs[] = {
    {"llama", "LlamaForCausalLM", "llama", true, false, false},
    {"qwen2", "Qwen2ForCausalLM", "qwen2", false, false, false},
    {"qwen3", "Qwen3ForCausalLM", "qwen3", false, true, false},
    {"gemma3", "Gemma3ForCausalLM", "gemma3_text", false, true, true},
};

// "blk.<layer>.<kind>.<weight|bias>" split into its parts; nullopt for any
// other name (globals, vision tensors).
struct BlockName {
  std::string layer, kind, suffix;
};

std::optional<BlockName> split_block_name(const std::string& name) {
  constexpr std::string_view kPrefix = "blk.";
  if (name.rfind(kPrefix, 0) != 0) return std::nullopt;
  const size_t dot1 = name.find('.', kPrefix.size());
  const size_t dot2 = dot1 == std::string::npos ? dot1 : name.find('.', dot1 + 1);
  if (dot2 == std::string::npos || dot1 == kPrefix.size() || dot2 == dot1 + 1) return std::nullopt;
  BlockName b{name.substr(kPrefix.size(), dot1 - kPrefix.size()),
              name.substr(dot1 + 1, dot2 - dot1 - 1), name.substr(dot2 + 1)};
  const auto all = [](const std::string& s, auto pred) {
    return std::all_of(s.begin(), s.end(), [&](char ch) { return pred(ch); });
  };
  if (!all(b.layer, [](char ch) { return ch >= '0' && ch <= '9'; })) return std::nullopt;
  if (!all(b.kind, [](char ch) { return (ch >= 'a' && ch <= 'z') || ch == '_'; }))
    return std::nullopt;
  if (b.suffix != "weight" && b.suffix != "bias") return std::nullopt;
  return b;
}

const ArchSpec& arch_spec(const GgufFile& f, std::string* arch) {
  *arch = f.at("general.architecture").as_string("general.architecture");
  for (const ArchSpec& a : kArchs)
    if (*arch == a.gguf) return a;
  fail(ErrorKind::kUnsupported,
       str_cat(f.path().string(), ": GGUF architecture '", *arch,
               "' is not supported (supported: llama, qwen2, qwen3, gemma3)"));
}

}  // namespace

bool is_gguf_path(const std::string& path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
}

json gguf_hf_config(const GgufFile& f) {
  std::string arch;
  const ArchSpec& spec = arch_spec(f, &arch);
  json c = json::object();
  std::string hf_arch = spec.hf, model_type = spec.model_type;
  if (arch == "llama") {
    // transformers: a llama file whose general.name mentions mistral is a Mistral model.
    const GgufValue* name = f.find("general.name");
    if (name && name->type() == GgufValueType::kString &&
        name->as_string("general.name").find("mistral") != std::string::npos) {
      hf_arch = "MistralForCausalLM";
      model_type = "mistral";
    }
  }
  c["architectures"] = {hf_arch};
  c["model_type"] = model_type;
  auto key = [&](const std::string& k) { return f.find(arch + "." + k); };
  auto set_int = [&](const char* gguf_key, const char* hf_key) {
    if (const GgufValue* v = key(gguf_key)) c[hf_key] = v->as_int(arch + "." + gguf_key);
  };
  auto set_double = [&](const char* gguf_key, const char* hf_key) {
    // GGUF holds these as f32; transformers reads the f32 value into a Python float.
    if (const GgufValue* v = key(gguf_key)) c[hf_key] = v->as_double(arch + "." + gguf_key);
  };
  set_int("context_length", "max_position_embeddings");
  set_int("block_count", "num_hidden_layers");
  set_int("feed_forward_length", "intermediate_size");
  set_int("embedding_length", "hidden_size");
  set_int("attention.head_count", "num_attention_heads");
  set_int("attention.head_count_kv", "num_key_value_heads");
  set_double("rope.freq_base", "rope_theta");
  set_double("attention.layer_norm_rms_epsilon", "rms_norm_eps");
  set_int("vocab_size", "vocab_size");
  if (spec.head_dim_from_rope) set_int("rope.dimension_count", "head_dim");
  if (spec.head_dim_from_key) set_int("attention.key_length", "head_dim");
  if (spec.sliding_window) set_int("attention.sliding_window", "sliding_window");
  set_double("final_logit_softcapping", "final_logit_softcapping");
  set_double("attn_logit_softcapping", "attn_logit_softcapping");
  if (const GgufValue* t = key("rope.scaling.type")) {
    const std::string type = t->as_string(arch + ".rope.scaling.type");
    if (type == "linear") {
      c["rope_scaling"] = {
          {"rope_type", "linear"},
          {"factor",
           key("rope.scaling.factor") ? key("rope.scaling.factor")->as_double("factor") : 1.0}};
    } else if (type != "none") {
      fail(ErrorKind::kUnsupported, str_cat(f.path().string(), ": GGUF RoPE scaling '", type,
                                            "' is not supported (linear only)"));
    }
  }
  if (!c.contains("vocab_size")) {
    if (const GgufValue* tokens = f.find("tokenizer.ggml.tokens"))
      c["vocab_size"] = int64_t(tokens->array_size());
  }
  c["tie_word_embeddings"] = f.find_tensor("output.weight") == nullptr;
  return c;
}

ModelConfig gguf_model_config(const GgufFile& f) {
  try {
    return parse_model_config(gguf_hf_config(f));
  } catch (const Error& e) {
    const std::string msg = e.what();
    throw Error(e.kind(), str_cat(f.path().string(), ": ", msg.substr(msg.find(": ") + 2)));
  }
}

GgufTensors::GgufTensors(const GgufFile& file, const ModelConfig& c) : file_(file) {
  std::string arch;
  arch_spec(file, &arch);
  const bool gemma = arch == "gemma3";
  // llama.cpp's converter permutes q/k rows of llama-architecture models only.
  const bool permuted = arch == "llama";
  PKV_CHECK(file.find_tensor("rope_freqs.weight") == nullptr, Unsupported, file.path().string(),
            ": per-frequency RoPE factors (rope_freqs.weight, Llama 3.1+ rope scaling) are not "
            "supported for GGUF files yet");
  static const std::pair<const char*, const char*> kGlobal[] = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"},
  };
  // blk.<i>.<gguf> -> model.layers.<i>.<hf>
  const std::vector<std::pair<std::string, std::string>> layer = {
      {"attn_norm", "input_layernorm"},
      {"ffn_norm", gemma ? "pre_feedforward_layernorm" : "post_attention_layernorm"},
      {"post_attention_norm", "post_attention_layernorm"},
      {"post_ffw_norm", "post_feedforward_layernorm"},
      {"attn_q", "self_attn.q_proj"},
      {"attn_k", "self_attn.k_proj"},
      {"attn_v", "self_attn.v_proj"},
      {"attn_output", "self_attn.o_proj"},
      {"attn_q_norm", "self_attn.q_norm"},
      {"attn_k_norm", "self_attn.k_norm"},
      {"ffn_gate", "mlp.gate_proj"},
      {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"},
  };
  for (const GgufTensorInfo& t : file.tensors()) {
    std::string hf;
    for (const auto& [g, h] : kGlobal)
      if (t.name == g) hf = h;
    if (const auto b = split_block_name(t.name); hf.empty() && b) {
      for (const auto& [g, h] : layer)
        if (b->kind == g) hf = str_cat("model.layers.", b->layer, ".", h, ".", b->suffix);
    }
    if (hf.empty()) continue;  // not a parameter of the text model
    Entry e{&t, Transform::kNone, 0};
    if (gemma && t.name.find("norm.weight") != std::string::npos)
      e.transform = Transform::kMinusOne;
    if (permuted && (t.name.find(".attn_q.") != std::string::npos ||
                     t.name.find(".attn_k.") != std::string::npos)) {
      e.transform = Transform::kUnpermuteRows;
      e.heads = t.name.find(".attn_q.") != std::string::npos ? c.num_heads : c.num_kv_heads;
    }
    entries_.emplace(std::move(hf), e);
  }
}

bool GgufTensors::contains(const std::string& name) const { return entries_.count(name) != 0; }

std::vector<std::string> GgufTensors::names() const {
  std::vector<std::string> out;
  for (const auto& [n, e] : entries_) out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

std::string GgufTensors::where() const { return file_.path().string(); }

const GgufTensorInfo& GgufTensors::gguf_tensor(const std::string& name) const {
  const auto it = entries_.find(name);
  PKV_CHECK(it != entries_.end(), NotFound, where(), ": no GGUF tensor for '", name, "'");
  return *it->second.tensor;
}

const GgufTensors::Entry& GgufTensors::entry(const std::string& name,
                                             const std::vector<int64_t>& expected) const {
  const auto it = entries_.find(name);
  PKV_CHECK(it != entries_.end(), NotFound, where(), ": no GGUF tensor for '", name, "'");
  const GgufTensorInfo& t = *it->second.tensor;
  PKV_CHECK(t.shape() == expected, InvalidArgument, where(), ": tensor '", t.name, "' (", name,
            ") has shape ", shape_str(t.shape()), ", expected ", shape_str(expected));
  return it->second;
}

namespace {

// rows [out] of `row` elements each: row h*2d + b*d + a takes row h*2d + 2a + b (the inverse of
// llama.cpp's permute; transformers' _reverse_permute_weights).
template <typename T>
std::vector<T> unpermute_rows(const std::vector<T>& w, int64_t out, int64_t row, int64_t heads,
                              const std::string& where) {
  PKV_CHECK(heads > 0 && out % (2 * heads) == 0, Corrupt, where, ": ", out,
            " rows cannot be grouped into ", heads, " heads of pairs");
  const int64_t d = out / heads / 2;
  std::vector<T> r(w.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t a = 0; a < d; ++a)
        std::memcpy(&r[size_t((h * 2 * d + b * d + a) * row)],
                    &w[size_t((h * 2 * d + 2 * a + b) * row)], size_t(row) * sizeof(T));
  return r;
}

}  // namespace

std::vector<float> GgufTensors::read_f32(const std::string& name,
                                         const std::vector<int64_t>& expected) const {
  const Entry& e = entry(name, expected);
  const GgufTensorInfo& t = *e.tensor;
  PKV_CHECK(gguf_can_dequantize(t.type), Unsupported, where(), ": tensor '", t.name, "' is ",
            ggml_type_name(t.type), ", which pagedkv cannot dequantize");
  const int64_t n = t.numel(), row = t.dims[0], rows = n / std::max<int64_t>(1, row);
  std::vector<float> out(static_cast<size_t>(n));  // [numel]
  const int64_t row_bytes = int64_t(t.bytes) / std::max<int64_t>(1, rows);
  // Rows are independent: dequantize blocks of rows on all threads (a 262k-row embedding).
  const int64_t per_item = std::max<int64_t>(1, (int64_t(1) << 18) / std::max<int64_t>(1, row));
  const int64_t items = (rows + per_item - 1) / per_item;
  auto run = [&](size_t i) {
    const int64_t r0 = int64_t(i) * per_item, r1 = std::min(rows, r0 + per_item);
    gguf_dequantize(t.type, t.data + r0 * row_bytes, (r1 - r0) * row, out.data() + r0 * row);
  };
  if (items > 1) {
    ThreadPool::global().parallel_for(size_t(items), run);
  } else {
    run(0);
  }
  if (e.transform == Transform::kMinusOne)
    for (float& x : out) x = x - 1.0f;
  if (e.transform == Transform::kUnpermuteRows)
    out = unpermute_rows(out, expected[0], n / expected[0], e.heads, where());
  return out;
}

std::vector<uint16_t> GgufTensors::read_bf16(const std::string& name,
                                             const std::vector<int64_t>& expected) const {
  const Entry& e = entry(name, expected);
  const GgufTensorInfo& t = *e.tensor;
  if (t.type != uint32_t(GgmlType::kBF16) || e.transform == Transform::kMinusOne) {
    const std::vector<float> f = read_f32(name, expected);
    std::vector<uint16_t> out(f.size());
    for (size_t i = 0; i < f.size(); ++i) out[i] = f32_to_bf16(f[i]);
    return out;
  }
  std::vector<uint16_t> out(t.bytes / 2);  // [numel]
  std::memcpy(out.data(), t.data, t.bytes);
  if (e.transform == Transform::kUnpermuteRows)
    out = unpermute_rows(out, expected[0], t.numel() / expected[0], e.heads, where());
  return out;
}

bool GgufTensors::stored_as_bf16(const std::string& name) const {
  const auto it = entries_.find(name);
  return it != entries_.end() && it->second.tensor->type == uint32_t(GgmlType::kBF16) &&
         it->second.transform != Transform::kMinusOne;
}

int64_t GgufTensors::stored_bytes(const std::string& name) const {
  const auto it = entries_.find(name);
  return it == entries_.end() ? 0 : int64_t(it->second.tensor->bytes);
}

void GgufTensors::release(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it != entries_.end()) release_pages(it->second.tensor->data, it->second.tensor->bytes);
}

}  // namespace pagedkv
