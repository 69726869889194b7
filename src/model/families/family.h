#pragma once
// A model family: the config.json architectures it answers to and the function that resolves its
// config into a ModelConfig (model_config.h). One file per family says what is particular to it
// (defaults, layer pattern, norms, RoPE, attention scale, MLP / MoE, weight names); the forward
// passes read the resulting data and never branch on the family.
//
// Adding a family: a new families/<name>.cc defining a `const ModelFamily k<Name>Family`, and
// one line in registry.cc.

#include <span>
#include <string_view>

#include "model/families/hf_config.h"
#include "model/model_config.h"

namespace pagedkv {

struct ModelFamily {
  std::string_view name;                            // "llama3": ModelConfig::family
  std::span<const std::string_view> architectures;  // config.json architectures[0]
  std::span<const std::string_view> model_types;    // model_type, when architectures is absent
  ModelConfig (*parse)(const HfConfig& config);     // everything but family / architecture
  // *ForConditionalGeneration containers of this family's text model (architectures and
  // model_types): parsed from their text_config, plus the top-level keys HF's container model
  // reads from its own config (e.g. Gemma 3 ties its lm_head by the top-level
  // tie_word_embeddings).
  std::span<const std::string_view> container_architectures = {};
  std::span<const std::string_view> container_model_types = {};
  std::span<const std::string_view> container_top_level_keys = {};
};

// The family of an architecture (or model_type) and whether it is a container's name.
struct FamilyMatch {
  const ModelFamily* family;
  bool container;
};

// Every registered family, in registry order.
std::span<const ModelFamily* const> model_families();

// The family of a config.json, by architectures[0] or else model_type. Error(Unsupported)
// naming both and listing the supported architectures when none matches.
FamilyMatch find_model_family(const std::string& architecture, const std::string& model_type);

}  // namespace pagedkv
