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

const ModelFamily& find_model_family(const std::string& architecture,
                                     const std::string& model_type) {
  for (const ModelFamily* f : kFamilies) {
    if (!architecture.empty()) {
      for (std::string_view a : f->architectures)
        if (a == architecture) return *f;
    } else {
      for (std::string_view t : f->model_types)
        if (t == model_type) return *f;
    }
  }
  std::string supported;
  for (const ModelFamily* f : kFamilies)
    for (std::string_view a : f->architectures) supported += str_cat(supported.empty() ? "" : ", ", a);
  fail(ErrorKind::kUnsupported,
       str_cat("config.json: unsupported architecture '",
               architecture.empty() ? model_type : architecture, "' (model_type '", model_type,
               "'); supported: ", supported));
}

}  // namespace pagedkv
