// The registered model families: one line each (families/<name>.cc defines it).
#include "model/families/family.h"

namespace pagedkv {

extern const ModelFamily kLlama3Family, kMistralFamily, kQwen2Family, kQwen3Family, kGemma3Family,
    kLlama4Family;

namespace {

const ModelFamily* const kFamilies[] = {
    &kLlama3Family,   //
    &kMistralFamily,  //
    &kQwen2Family,    //
    &kQwen3Family,    //
    &kGemma3Family,   //
    &kLlama4Family,   //
};

}  // namespace

std::span<const ModelFamily* const> model_families() { return kFamilies; }

FamilyMatch find_model_family(const std::string& architecture, const std::string& model_type) {
  for (const ModelFamily* f : kFamilies) {
    const bool by_arch = !architecture.empty();
    const std::string& want = by_arch ? architecture : model_type;
    for (std::string_view a : by_arch ? f->architectures : f->model_types)
      if (a == want) return {f, false};
    for (std::string_view a : by_arch ? f->container_architectures : f->container_model_types)
      if (a == want) return {f, true};
  }
  std::string supported;
  for (const ModelFamily* f : kFamilies) {
    for (std::string_view a : f->architectures)
      supported += str_cat(supported.empty() ? "" : ", ", a);
    for (std::string_view a : f->container_architectures) supported += str_cat(", ", a, " (text)");
  }
  fail(ErrorKind::kUnsupported,
       str_cat("config.json: unsupported architecture '",
               architecture.empty() ? model_type : architecture, "' (model_type '", model_type,
               "'); supported: ", supported));
}

}  // namespace pagedkv
