#pragma once
// A GGUF file as a checkpoint: its metadata turned into the config.json transformers builds from
// it, and its tensors served under their Hugging Face names, dequantized and laid out as
// transformers' GGUF loader does (modeling_gguf_pytorch_utils.load_gguf_checkpoint):
//   - config: GGUF_CONFIG_MAPPING's keys (<arch>.context_length -> max_position_embeddings,
//     block_count, feed_forward_length, embedding_length, attention.head_count(_kv),
//     attention.key_length (head_dim), rope.freq_base, attention.layer_norm_rms_epsilon,
//     attention.sliding_window, vocab_size or the token count); tie_word_embeddings when the file
//     has no output.weight; everything else takes the family's HF defaults, as in transformers.
//     Beyond transformers: <arch>.rope.scaling.{type,factor} (linear) become rope_scaling, as
//     llama.cpp applies them;
//   - llama-architecture q/k projections: llama.cpp's converter permutes their rows for its RoPE
//     layout (interleaved pairs); undone here exactly as transformers' LlamaTensorProcessor does;
//   - Gemma norms: llama.cpp stores 1 + w; w = stored - 1 in f32 (Gemma2TensorProcessor).
// Architectures: llama (Llama 3, SmolLM2; "mistral" in general.name makes it Mistral, as in
// transformers), qwen2, qwen3, gemma3. Others are Error(Unsupported) naming them.

#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "core/gguf_file.h"
#include "model/model_config.h"
#include "model/tensor_source.h"

namespace pagedkv {

// True for a path naming a .gguf file.
bool is_gguf_path(const std::string& path);

// The config.json transformers would build from the file's metadata.
nlohmann::json gguf_hf_config(const GgufFile& file);
// parse_model_config of it; errors name the file.
ModelConfig gguf_model_config(const GgufFile& file);

class GgufTensors : public TensorSource {
 public:
  // Maps the file's tensors to HF names for this config (from gguf_model_config). Tensors that
  // no HF parameter takes (e.g. rope_freqs) are ignored, unless pagedkv would compute something
  // else without them (Error(Unsupported)).
  GgufTensors(const GgufFile& file, const ModelConfig& config);

  bool contains(const std::string& name) const override;
  std::vector<std::string> names() const override;
  std::string where() const override;
  std::vector<float> read_f32(const std::string& name,
                              const std::vector<int64_t>& expected_shape) const override;
  std::vector<uint16_t> read_bf16(const std::string& name,
                                  const std::vector<int64_t>& expected_shape) const override;
  bool stored_as_bf16(const std::string& name) const override;
  int64_t stored_bytes(const std::string& name) const override;
  void release(const std::string& name) const override;

  // The GGUF tensor behind an HF name (tests).
  const GgufTensorInfo& gguf_tensor(const std::string& name) const;

 private:
  enum class Transform { kNone, kUnpermuteRows, kMinusOne };
  struct Entry {
    const GgufTensorInfo* tensor;
    Transform transform;
    int64_t heads;  // kUnpermuteRows: the head count the rows are grouped by
  };
  const Entry& entry(const std::string& name, const std::vector<int64_t>& expected_shape) const;

  const GgufFile& file_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace pagedkv
