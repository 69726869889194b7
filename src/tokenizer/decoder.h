#pragma once
// The "decoder" of a tokenizer.json: turns the token strings of decoded ids back into text, as a
// chain over the list of tokens (HF's decode_chain). Supported: ByteLevel, Replace, ByteFallback,
// Fuse, Strip, Metaspace and Sequence of those.

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace pagedkv {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
  // True when a token's text may still change with the tokens after it (ByteFallback: a run of
  // <0xNN> pieces is text only if the whole run is valid UTF-8). DecodeStream waits then.
  virtual bool joins_byte_runs() const { return false; }
  // True when the chain contains ByteLevel: tokens stand for raw bytes (GPT-2 alphabet).
  virtual bool byte_level() const { return false; }
};

// "<0xNN>" -> NN (a byte-fallback piece), else -1.
int fallback_byte(const std::string& token);

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& spec);

// Decoded text of a list of tokens: the decoder's chain, then concatenation (no decoder: tokens
// joined with spaces, as HF does).
std::string run_decoder(const Decoder* decoder, std::vector<std::string>&& tokens);

}  // namespace pagedkv
