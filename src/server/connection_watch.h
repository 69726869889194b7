#pragma once
// Tells an HTTP handler whether its client is still there. cpp-httplib (Debian's 0.11) hands a
// handler the request's addresses but not its socket, and has no "connection closed" query; a
// handler that waits on the engine would otherwise learn of a disconnect only when it next writes
// (streaming) or never (a non-streamed request runs to the end for nobody). So the watch finds the
// socket itself: the one descriptor of this process whose local and peer addresses are the
// request's (a TCP connection's address pair is unique, and the handler's thread owns that socket
// until the handler returns, so the descriptor cannot be closed and reused meanwhile).
//
// Cost: one scan of /proc/self/fd at construction, two getsockname/getpeername calls per open
// descriptor (a few microseconds each; a few hundred descriptors under load), once per request.
// closed() is one poll(2) with no wait.

#include <string>

namespace pagedkv {

class ConnectionWatch {
 public:
  ConnectionWatch(const std::string& local_addr, int local_port, const std::string& remote_addr,
                  int remote_port);

  // Whether the peer has closed or reset the connection (POLLRDHUP / POLLHUP / POLLERR). False
  // when the socket was not found (the watch then never cancels anything).
  bool closed() const;
  bool found() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace pagedkv
