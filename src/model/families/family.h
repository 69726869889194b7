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
  std::string_view name;                             // "llama3": ModelConfig::family
  std::span<const std::string_view> architectures;   // config.json architectures[0]
  std::span<const std::string_view> model_types;     // model_type, when architectures is absent
  ModelConfig (*parse)(const HfConfig& config);      // everything but family / architecture
};

// Every registered family, in registry order.
std::span<const ModelFamily* const> model_families();

// The family of a config.json, by architectures[0] or else model_type. Error(Unsupported)
// naming both and listing the supported architectures when none matches.
const ModelFamily& find_model_family(const std::string& architecture, const std::string& model_type);

}  // namespace pagedkv
