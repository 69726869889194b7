#include "cli/session.h"

#include <climits>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>

#include "cli/id_list.h"
#include "core/error.h"

namespace pagedkv {

void ModelFlags::add_to(CLI::App* cmd) {
  cmd->add_option("--model", model_dir,
                  "checkpoint directory (config.json + safetensors) or a .gguf file (model, "
                  "tokenizer and chat template from its metadata)")
      ->required();
  cmd->add_option(
      "--tokenizer", tokenizer_dir,
      "directory with tokenizer.json (+ tokenizer_config.json, generation_config.json); "
      "default: the model directory");
  cmd->add_option("--device", device, "cpu or cuda (bf16 weights and KV on the GPU)");
  cmd->add_option("--kv-dtype", kv_dtype,
                  "KV cache dtype: auto (cpu f32, cuda bf16), bf16, fp8_e4m3");
  cmd->add_option("--kernel", kernel, "CPU decode attention: auto, fused, gather, prefill");
  cmd->add_option("--block-size", block_size, "tokens per KV block (power of two, 1..256)");
  cmd->add_option("--num-blocks", num_blocks, "KV pool size in blocks per layer group (0: auto)");
  cmd->add_option("--gpu-memory-fraction", gpu_memory_fraction,
                  "cuda, --num-blocks 0: the KV pool takes what weights and activations leave of "
                  "this fraction of device memory");
  cmd->add_flag("--batch-invariant", batch_invariant,
                "cuda: a request's tokens do not depend on the others in its batch (one GEMM "
                "configuration for every batch size, one attention kernel for prefill and "
                "decode); slower decode");
  cmd->add_option("--max-model-len", max_model_len,
                  "context length (prompt + generated tokens); 0: the model's");
  cmd->add_option("--threads", threads,
                  "CPU threads (default: $PAGEDKV_NUM_THREADS, else all cores)");
  cmd->add_option("--chat-template", chat_template,
                  "Jinja chat template file (replaces the checkpoint's, or supplies one)");
}

void SamplingFlags::add_to(CLI::App* cmd, bool with_n) {
  // Each flag's range is checked as it is parsed (CLI11 names the flag); the defaults below 0
  // stand for "not given" and are never parsed, so a user's -1 is refused, not taken as unset.
  cmd->add_option("--temperature", temperature,
                  "0: greedy (default: generation_config.json's, else 0)")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--top-k", top_k, "0: off")->check(CLI::Range(0, INT32_MAX));
  cmd->add_option("--top-p", top_p, "1: off")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-p", min_p, "0: off")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", seed, "random seed (default: random, printed on stderr when sampling)")
      ->check(CLI::Range(int64_t(0), INT64_MAX));
  if (with_n)
    cmd->add_option("-n", n, str_cat("samples per prompt (1..", kMaxSamples, ")"))
        ->check(CLI::Range(1, kMaxSamples));
  cmd->add_option("--stop", stop, "stop string (repeatable); not part of the output");
  cmd->add_option("--stop-ids", stop_ids, "stop token ids, comma-separated (besides EOS)");
  cmd->add_option("--logprobs", logprobs, "top-N log-probabilities of each generated token")
      ->check(CLI::Range(0, kMaxLogprobs));
  cmd->add_flag("--ignore-eos", ignore_eos, "keep generating past EOS");
}

void PromptFlags::add_to(CLI::App* cmd) {
  cmd->add_option("--prompt", text, "prompt text");
  cmd->add_option("--prompt-file", file, "prompt text from a file (- : standard input)");
  cmd->add_option("--prompt-ids", ids, "prompt token ids, comma-separated");
  cmd->add_flag("--chat", chat, "apply the checkpoint's chat template to the prompt (a user turn)");
  cmd->add_option("--system", system, "system message for --chat");
  cmd->add_option("--chat-var", chat_vars,
                  "chat template variable KEY=JSON (repeatable), e.g. enable_thinking=false");
}

SamplingParams sampling_params(const Session& s, const SamplingFlags& f, int32_t max_tokens,
                               std::ostream& log) {
  SamplingParams p;
  const GenerationConfig* g = s.text ? &s.text->generation : nullptr;
  const bool sample_default = g && g->do_sample.value_or(false);
  p.temperature = f.temperature >= 0 ? f.temperature
                                     : (sample_default ? float(g->temperature.value_or(1.0)) : 0.f);
  p.top_k = f.top_k >= 0 ? f.top_k : (sample_default ? g->top_k.value_or(0) : 0);
  p.top_p = f.top_p >= 0 ? f.top_p : (sample_default ? float(g->top_p.value_or(1.0)) : 1.f);
  p.min_p = f.min_p >= 0 ? f.min_p : 0.f;
  PKV_CHECK(f.n >= 1 && f.n <= kMaxSamples, InvalidArgument, "-n must be in [1, ", kMaxSamples,
            "], got ", f.n);
  p.n = f.n;
  p.max_tokens = max_tokens;
  p.stop = f.stop;
  p.logprobs = f.logprobs;
  p.stop_token_ids = parse_id_list(f.stop_ids, "--stop-ids");
  if (!f.ignore_eos)
    for (int32_t id : s.eos_ids()) p.stop_token_ids.push_back(id);
  if (f.seed >= 0) {
    p.seed = uint64_t(f.seed);
  } else {
    p.seed = std::random_device{}() & 0x7fffffff;
    if (p.temperature > 0) log << "seed " << p.seed << " (pass --seed to repeat)\n";
  }
  return p;
}

std::string render_chat(const Session& s, const nlohmann::ordered_json& messages,
                        const PromptFlags& f) {
  PKV_CHECK(s.text && s.text->chat_template, InvalidArgument,
            "--chat: the checkpoint has no chat template (tokenizer_config.json chat_template)");
  ChatOptions o;
  o.add_generation_prompt = true;
  for (const std::string& kv : f.chat_vars) {
    const size_t eq = kv.find('=');
    PKV_CHECK(eq != std::string::npos && eq > 0, InvalidArgument, "--chat-var '", kv,
              "': expected KEY=JSON");
    try {
      o.extra[kv.substr(0, eq)] = nlohmann::ordered_json::parse(kv.substr(eq + 1));
    } catch (const nlohmann::json::exception&) {
      o.extra[kv.substr(0, eq)] = kv.substr(eq + 1);  // a bare word is a string
    }
  }
  return s.render_chat(messages, o);
}

std::vector<int32_t> prompt_ids(const Session& s, const PromptFlags& f) {
  const int given = int(!f.text.empty()) + int(!f.file.empty()) + int(!f.ids.empty());
  PKV_CHECK(given == 1, InvalidArgument,
            "give exactly one of --prompt, --prompt-file, --prompt-ids");
  if (!f.ids.empty()) {
    PKV_CHECK(!f.chat, InvalidArgument, "--chat takes a text prompt, not --prompt-ids");
    std::vector<int32_t> ids = parse_id_list(f.ids, "--prompt-ids");
    PKV_CHECK(!ids.empty(), InvalidArgument, "--prompt-ids: no token ids given");
    return ids;
  }
  std::string prompt = f.text;
  if (!f.file.empty()) {
    std::ifstream file;
    if (f.file != "-") {
      file.open(f.file, std::ios::binary);
      PKV_CHECK(file.good(), NotFound, "--prompt-file: cannot open ", f.file);
    }
    std::istream& in = f.file == "-" ? std::cin : file;
    prompt.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  PKV_CHECK(s.text.has_value(), InvalidArgument,
            "a text prompt needs the checkpoint's tokenizer.json (or --tokenizer DIR); use "
            "--prompt-ids for token ids");
  if (f.chat) {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (!f.system.empty()) messages.push_back({{"role", "system"}, {"content", f.system}});
    messages.push_back({{"role", "user"}, {"content", prompt}});
    // The template writes any BOS itself: no post-processor on top.
    return s.text->tokenizer.encode(render_chat(s, messages, f), {.add_special_tokens = false});
  }
  return s.text->tokenizer.encode(prompt, {.add_special_tokens = true});
}

}  // namespace pagedkv
