#pragma once
// Files of a checkpoint read whole (config.json, tokenizer files, the safetensors index), refusing
// anything but a regular file: opening a FIFO named config.json blocks until a writer comes
// (forever, for a hostile checkpoint), and a device such as /dev/zero never ends. The file is
// opened without blocking, checked with fstat, and read only if it is regular and at most
// `max_bytes` long, so a huge file is refused before anything is allocated for it.

#include <cstddef>
#include <filesystem>
#include <string>

namespace pagedkv {

// NotFound when it does not exist; InvalidArgument when it is not a regular file, cannot be read,
// or is longer than max_bytes (the message names the path and the limit).
std::string read_regular_file(const std::filesystem::path& path, size_t max_bytes);

// The first half of that, for readers that map the file instead (MappedFile): a descriptor open
// for reading (the caller closes it) and the file's size; the same errors, no size limit.
struct RegularFileFd {
  int fd = -1;
  size_t size = 0;
};
RegularFileFd open_regular_file(const std::filesystem::path& path);

}  // namespace pagedkv
