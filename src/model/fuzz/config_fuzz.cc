// libFuzzer harness: config.json text through the config parser (nesting bound, JSON parse, the
// family's typed and range-checked reads). Any outcome but a ModelConfig or a pagedkv::Error —
// another exception, a crash, a sanitizer report, a hang — is a finding. Built by
// scripts/fuzz.sh with clang (-fsanitize=fuzzer,address,undefined); seeds in corpus/config/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "model/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const pagedkv::ModelConfig c = pagedkv::parse_model_config_text(
        std::string_view(reinterpret_cast<const char*>(data), size), "config.json");
    // What a parsed config promises the loaders: sizes in range, one LayerConfig per layer.
    if (c.num_layers < 1 || int64_t(c.layers.size()) != c.num_layers || c.head_dim < 1 ||
        c.num_heads % c.num_kv_heads != 0 || !(c.rms_norm_eps > 0) || !(c.query_scale > 0))
      __builtin_trap();
  } catch (const pagedkv::Error&) {
    // A clear error: the expected outcome for hostile input.
  }
  return 0;
}
