// HttpConnection: one keep-alive HTTP/1.1 connection (TCP, optionally TLS through OpenSSL)
// with timeouts, used by one sender thread. The socket is blocking with SO_RCVTIMEO and
// SO_SNDTIMEO, so that a request costs one send and, usually, one recv. Only shutdown() may
// be called from another thread (it wakes a blocked call; the owner still closes).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "delivery/http/response.h"
#include "delivery/url.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace folderhook::delivery {

class HttpConnection {
 public:
  enum class ReadEnd {
    kResponse,      // the parser is done (any status)
    kNothing,       // closed or reset before any byte of the response
    kTimeout,       // no byte within the timeout
    kDeadline,      // bytes kept coming past `deadline`
    kFailed,        // the parser failed, or the connection broke in the middle
  };

  // DNS, TCP connect within `timeout`, and the TLS handshake when url.scheme is https (tls
  // must then be non-null). nullptr and a one-line `error` on failure.
  static std::unique_ptr<HttpConnection> open(const Url& url, std::chrono::milliseconds timeout,
                                              SSL_CTX* tls, std::string& error);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool write_all(std::string_view data);
  // Feeds the parser until it is done, fails, the peer closes, or a read times out. Bytes
  // past the end of the response stay buffered for the next call (pipelining).
  ReadEnd read_response(ResponseParser& parser, std::chrono::steady_clock::time_point deadline);
  // From any thread.
  void shutdown();
  // For poll(): the socket, and whether bytes are already read (here or inside TLS) that a
  // poll on the socket would not report.
  int fd() const { return fd_; }
  bool buffered() const;

 private:
  HttpConnection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  // >0 bytes, 0 end of stream, -1 timeout, -2 error or reset.
  long receive(char* data, size_t size);
  // Sends the ACK of what was received without the delayed-ACK wait.
  void ack_now();

  int fd_;
  SSL* ssl_;
  std::string buffer_;  // received, not yet parsed
  size_t offset_ = 0;
};

// The TLS context of one sender: verifies the peer against `ca_file`. nullptr and `error`
// when the file cannot be loaded.
SSL_CTX* make_tls_context(const std::string& ca_file, std::string& error);
void free_tls_context(SSL_CTX* ctx);

}  // namespace folderhook::delivery
