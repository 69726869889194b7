#include "server/sampling_fields.h"

#include <limits>
#include <random>

#include "server/api_error.h"

namespace pagedkv {

namespace {

// A field that changes the output in OpenAI's API but not here: accepted only at its no-op value.
void refuse_unless_neutral(const JsonFields& f, const char* name, double neutral) {
  const std::optional<double> v = f.number(name, -1e9, 1e9);
  if (v && *v != neutral)
    throw bad_request(f.path(name), "not supported by pagedkv (only " +
                                        std::to_string(int(neutral)) + " is accepted)");
}

// A fresh 63-bit seed: a request without one is not reproducible, as with OpenAI.
uint64_t random_seed() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen() >> 1;
}

}  // namespace

SamplingParams parse_sampling_fields(const JsonFields& f, const ServedModel& model) {
  SamplingParams p;
  const GenerationConfig& g = model.text->generation;
  p.temperature = float(f.number("temperature", 0.0, 2.0).value_or(g.temperature.value_or(1.0)));
  p.top_p = float(f.number("top_p", 0.0, 1.0).value_or(g.top_p.value_or(1.0)));
  if (p.top_p <= 0.0f) throw bad_request(f.path("top_p"), "must be in (0, 1], got 0");
  p.top_k = int32_t(f.integer("top_k", -1, model.vocab_size).value_or(g.top_k.value_or(0)));
  if (p.top_k < 0) p.top_k = 0;  // vLLM's -1: off
  p.min_p = float(f.number("min_p", 0.0, 1.0).value_or(0.0));
  p.n = int32_t(f.integer("n", 1, kMaxN).value_or(1));
  const std::optional<int64_t> seed =
      f.integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  p.seed = seed ? uint64_t(*seed) : random_seed();
  if (auto stop = f.string_or_list("stop", kMaxStopStrings)) p.stop = std::move(*stop);
  if (const Json* ids = f.get("stop_token_ids")) {
    if (!ids->is_array())
      throw bad_request(f.path("stop_token_ids"),
                        std::string("expected an array of token ids, got ") + json_type_name(*ids));
    for (size_t i = 0; i < ids->size(); ++i) {
      const Json& id = (*ids)[i];
      const std::string name = f.path("stop_token_ids") + "[" + std::to_string(i) + "]";
      if (!id.is_number_integer())
        throw bad_request(name, std::string("expected an integer, got ") + json_type_name(id));
      if (id.get<int64_t>() < 0 || id.get<int64_t>() >= model.vocab_size)
        throw bad_request(name, "token id " + std::to_string(id.get<int64_t>()) +
                                    " is outside the vocabulary [0, " +
                                    std::to_string(model.vocab_size) + ")");
      p.stop_token_ids.push_back(id.get<int32_t>());
    }
  }
  if (!f.boolean("ignore_eos").value_or(false))
    for (int32_t id : model.text->eos_ids()) p.stop_token_ids.push_back(id);
  p.skip_special_tokens = f.boolean("skip_special_tokens").value_or(true);

  refuse_unless_neutral(f, "presence_penalty", 0);
  refuse_unless_neutral(f, "frequency_penalty", 0);
  refuse_unless_neutral(f, "repetition_penalty", 1);
  if (const Json* bias = f.get("logit_bias")) {
    if (!bias->is_object())
      throw bad_request(f.path("logit_bias"),
                        std::string("expected an object, got ") + json_type_name(*bias));
    if (!bias->empty()) throw bad_request(f.path("logit_bias"), "not supported by pagedkv");
  }
  return p;
}

}  // namespace pagedkv
