#pragma once
// Synthetic weights for a ModelConfig (benchmarks, tests of shapes HF fixtures do not cover, e.g.
// head dims the fused decode kernel supports). Normal(0, 1/sqrt(fan_in)) matrices keep
// activations O(1) through the layers; norm weights near their identity.

#include "core/random.h"
#include "model/model_config.h"
#include "model/model_weights.h"

namespace pagedkv {

ModelWeights random_model_weights(const ModelConfig& config, Rng& rng);

}  // namespace pagedkv
