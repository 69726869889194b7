#include "core/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace pagedkv {

RegularFileFd open_regular_file(const std::filesystem::path& path) {
  // O_NONBLOCK: open() of a FIFO returns at once instead of waiting for a writer; it changes
  // nothing for a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    PKV_CHECK(err != ENOENT, NotFound, "file not found: ", path.string());
    fail(ErrorKind::kInvalidArgument,
         str_cat("cannot open ", path.string(), ": ", std::strerror(err)));
  }
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (!regular) {
    ::close(fd);
    fail(ErrorKind::kInvalidArgument, str_cat("not a regular file: ", path.string()));
  }
  return {fd, size_t(st.st_size)};
}

std::string read_regular_file(const std::filesystem::path& path, size_t max_bytes) {
  const auto [fd, size] = open_regular_file(path);
  if (size > max_bytes) {
    ::close(fd);
    fail(ErrorKind::kInvalidArgument,
         str_cat(path.string(), ": ", size, " bytes, more than the limit of ", max_bytes));
  }
  std::string out(size, '\0');
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      fail(ErrorKind::kInvalidArgument, str_cat("cannot read ", path.string(), ": ",
                                                n == 0 ? "file shrank" : std::strerror(err)));
    }
    done += size_t(n);
  }
  ::close(fd);
  return out;
}

}  // namespace pagedkv
