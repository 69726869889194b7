#pragma once
// Errors: every bad input raises pagedkv::Error with a message that names what was wrong.
// Callers validate before they mutate, so a thrown Error leaves every structure as it was.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace pagedkv {

enum class ErrorKind {
  kInvalidArgument,  // wrong shape, size, id or dtype supplied by the caller
  kOutOfMemory,      // pool or budget exhausted (retry later, or preempt)
  kNotFound,         // file, tensor or key missing
  kCorrupt,          // malformed file contents
  kUnsupported,      // valid request this build cannot serve (head dim, architecture, no GPU)
  kInternal,         // broken invariant: a bug in pagedkv
};

const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message)
      : std::runtime_error(std::string(error_kind_name(kind)) + ": " + message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// str_cat("block ", id, " is free") — builds messages without iostream boilerplate at call sites.
template <typename... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

[[noreturn]] inline void fail(ErrorKind kind, const std::string& message) {
  throw Error(kind, message);
}

}  // namespace pagedkv

// PKV_CHECK(cond, kind-suffix, message parts...): throw Error(ErrorKind::k<kind>, ...) if !cond.
#define PKV_CHECK(cond, kind, ...)                                                                \
  do {                                                                                            \
    if (!(cond)) ::pagedkv::fail(::pagedkv::ErrorKind::k##kind, ::pagedkv::str_cat(__VA_ARGS__)); \
  } while (0)
