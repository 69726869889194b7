#pragma once
// A read-only memory mapping of a whole file (RAII, move-only).
// Checkpoint tensors are read straight out of the page cache through this mapping: opening a
// multi-GB checkpoint costs no copy, and pages are faulted in only when a tensor is read.

#include <cstddef>
#include <filesystem>
#include <span>

namespace pagedkv {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps `path` read-only. NotFound if it does not exist; InvalidArgument if it is not a regular
  // file (a FIFO or device is refused without blocking), cannot be opened or mapped (the message
  // names the path and the OS error). An empty file maps to an empty span.
  static MappedFile open(const std::filesystem::path& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void release() noexcept;

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;  // [size_] bytes, page-aligned
  size_t size_ = 0;
};

// Drops the whole pages inside [p, p + bytes) of a read-only mapping from this process's memory
// (madvise MADV_DONTNEED; they are read from the file again if touched). Loaders call it once a
// tensor is copied out, so loading does not hold the model twice.
void release_pages(const void* p, size_t bytes);

}  // namespace pagedkv
