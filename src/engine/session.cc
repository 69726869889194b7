#include "engine/session.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "core/thread_pool.h"
#include "engine/kv_budget.h"
#include "engine/models.h"

namespace pagedkv {

Session Session::load(const SessionOptions& o) {
  PKV_CHECK(o.block_size >= 1 && o.block_size <= 256 && (o.block_size & (o.block_size - 1)) == 0,
            InvalidArgument, "--block-size must be a power of two in [1, 256], got ", o.block_size);
  PKV_CHECK(o.num_blocks >= 0, InvalidArgument, "--num-blocks must be >= 0, got ", o.num_blocks);
  PKV_CHECK(o.max_model_len == 0 || o.max_model_len >= 2, InvalidArgument,
            "--max-model-len must be >= 2 (or 0: the model's), got ", o.max_model_len);
  PKV_CHECK(o.threads >= 0, InvalidArgument, "--threads must be >= 0, got ", o.threads);
  if (o.threads > 0) ThreadPool::set_global_threads(size_t(o.threads));
  Session s;
  s.options = o;
  const std::string dir = o.tokenizer_dir.empty() ? o.model_dir : o.tokenizer_dir;
  if (std::filesystem::path(dir).extension() == ".gguf") {
    s.text = ModelTokenizer::load_gguf(dir);
  } else if (std::filesystem::exists(dir + "/tokenizer.json")) {  // not opened here: a FIFO
    s.text = ModelTokenizer::load(dir);
  } else {
    PKV_CHECK(o.tokenizer_dir.empty(), NotFound, "--tokenizer ", dir, ": no tokenizer.json");
  }
  if (!o.chat_template.empty()) {
    PKV_CHECK(s.text.has_value(), InvalidArgument, "--chat-template needs a tokenizer");
    std::ifstream in(o.chat_template, std::ios::binary);
    PKV_CHECK(in.good(), NotFound, "--chat-template: cannot open ", o.chat_template);
    const std::string source((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
    s.text->chat_template.emplace(source, s.text->special_tokens);
  }
  s.model = load_model(o.model_dir, {.device = o.device,
                                     .decode_kernel = parse_decode_kernel(o.kernel),
                                     .batch_invariant = o.batch_invariant});
  const int64_t trained = s.model->max_model_len();
  PKV_CHECK(o.max_model_len == 0 || trained == 0 || o.max_model_len <= trained, InvalidArgument,
            "--max-model-len ", o.max_model_len, " exceeds the model's context of ", trained,
            " tokens (config.json max_position_embeddings)");
  return s;
}

std::vector<int32_t> Session::eos_ids() const {
  return text ? text->eos_ids() : std::vector<int32_t>{};
}

int64_t Session::max_model_len() const {
  if (options.max_model_len > 0) return options.max_model_len;
  return model->max_model_len() > 0 ? model->max_model_len() : 4096;
}

std::string Session::render_chat(const nlohmann::ordered_json& messages,
                                 const ChatOptions& o) const {
  PKV_CHECK(text && text->chat_template, InvalidArgument,
            "chat: the checkpoint has no chat template (tokenizer_config.json chat_template)");
  return text->chat_template->render(messages, o);
}

EngineConfig Session::engine_config(int64_t tokens, std::string* note) const {
  EngineConfig c;
  c.block_size = options.block_size;
  c.max_model_len = max_model_len();
  if (options.kv_dtype != "auto") c.kv_dtype = parse_dtype(options.kv_dtype);
  const int64_t need = std::min(tokens, c.max_model_len * 256) / options.block_size + 2;
  c.num_blocks =
      options.num_blocks > 0 ? options.num_blocks : int32_t(std::min<int64_t>(need, 1 << 24));
  if (note) note->clear();
  if (options.num_blocks == 0) {
    const auto budget = device_kv_budget(*model, options.gpu_memory_fraction, c.block_size,
                                         c.kv_dtype.value_or(model->default_kv_dtype()),
                                         c.scheduler.max_num_batched_tokens);
    if (budget && tokens > 0 && need < budget->num_blocks) {  // one run that knows its size
      c.num_blocks = int32_t(need);
      if (note)
        *note = str_cat("KV cache: ", need,
                        " blocks, what this run needs (the budget: ", budget->summary, ")");
    } else if (budget) {
      c.num_blocks = budget->num_blocks;
      if (note) *note = str_cat("KV cache: ", budget->summary);
    }
  }
  c.tokenizer = text ? &text->tokenizer : nullptr;
  return c;
}

int32_t default_max_tokens(int64_t prompt_len, int64_t max_model_len, int32_t requested) {
  if (requested > 0) return requested;  // checked against the context by the engine
  return int32_t(std::max<int64_t>(1, std::min<int64_t>(16, max_model_len - prompt_len)));
}

}  // namespace pagedkv
