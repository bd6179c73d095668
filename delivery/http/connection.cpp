#include "delivery/http/connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace folderhook::delivery {
namespace {

using Clock = std::chrono::steady_clock;

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// Connects within `timeout`: non-blocking connect, poll, then back to blocking.
// Returns the fd, -1 when refused or unreachable, -2 on timeout.
int connect_one(const addrinfo& ai, std::chrono::milliseconds timeout) {
  const int fd = ::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          ai.ai_protocol);
  if (fd < 0) return -1;
  int rc = ::connect(fd, ai.ai_addr, ai.ai_addrlen);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    do {
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
      ::close(fd);
      return -2;
    }
    int err = 0;
    socklen_t len = sizeof err;
    rc = (rc > 0 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) ? 0 : -1;
  }
  if (rc != 0) {
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const timeval tv = to_timeval(timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

bool is_ip_literal(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

}  // namespace

SSL_CTX* make_tls_context(const std::string& ca_file, std::string& error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    error = "cannot create a TLS context";
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    ERR_clear_error();
    SSL_CTX_free(ctx);
    error = "cannot load CA certificates from " + ca_file;
    return nullptr;
  }
  return ctx;
}

void free_tls_context(SSL_CTX* ctx) { SSL_CTX_free(ctx); }

std::unique_ptr<HttpConnection> HttpConnection::open(const Url& url,
                                                     std::chrono::milliseconds timeout,
                                                     SSL_CTX* tls, std::string& error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(url.port);
  const int gai = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) {
    error = "DNS lookup of '" + url.host + "' failed: " + ::gai_strerror(gai);
    return nullptr;
  }
  int fd = -1;
  bool timed_out = false;
  for (const addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = connect_one(*ai, timeout);
    if (fd == -2) timed_out = true;
  }
  ::freeaddrinfo(res);
  const std::string where = url.host + ":" + port;
  if (fd < 0) {
    error = timed_out ? "connect to " + where + " timed out after " +
                            std::to_string(timeout.count()) + " ms"
                      : "cannot connect to " + where + " (connection refused or host unreachable)";
    return nullptr;
  }
  if (url.scheme != "https") return std::unique_ptr<HttpConnection>(new HttpConnection(fd, nullptr));

  SSL* ssl = SSL_new(tls);
  if (ssl == nullptr) {
    ::close(fd);
    error = "TLS handshake with " + url.host + " failed (out of memory)";
    return nullptr;
  }
  std::unique_ptr<HttpConnection> conn(new HttpConnection(fd, ssl));
  SSL_set_fd(ssl, fd);
  if (is_ip_literal(url.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, url.host.c_str());
    SSL_set1_host(ssl, url.host.c_str());
  }
  if (SSL_connect(ssl) != 1) {
    ERR_clear_error();
    const long verify = SSL_get_verify_result(ssl);
    error = verify != X509_V_OK ? "TLS certificate of " + url.host +
                                      " not trusted: " + X509_verify_cert_error_string(verify)
                                : "TLS handshake with " + url.host + " failed";
    return nullptr;
  }
  return conn;
}

HttpConnection::~HttpConnection() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // no close_notify: the peer learns from the close
  ::close(fd_);
}

void HttpConnection::shutdown() { ::shutdown(fd_, SHUT_RDWR); }

bool HttpConnection::buffered() const {
  return offset_ < buffer_.size() || (ssl_ != nullptr && SSL_pending(ssl_) > 0);
}

bool HttpConnection::write_all(std::string_view data) {
  while (!data.empty()) {
    long n;
    if (ssl_ != nullptr) {
      n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
    } else {
      n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void HttpConnection::ack_now() {
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

long HttpConnection::receive(char* data, size_t size) {
  for (;;) {
    if (ssl_ != nullptr) {
      const int n = SSL_read(ssl_, data, static_cast<int>(size));
      if (n > 0) return n;
      const int e = SSL_get_error(ssl_, n);
      const int saved = errno;
      ERR_clear_error();
      if (e == SSL_ERROR_ZERO_RETURN) return 0;
      if (e == SSL_ERROR_SYSCALL && n == 0) return 0;
      if ((e == SSL_ERROR_SYSCALL || e == SSL_ERROR_WANT_READ) &&
          (saved == EAGAIN || saved == EWOULDBLOCK)) {
        return -1;
      }
      if (e == SSL_ERROR_SYSCALL && saved == EINTR) continue;
      return -2;
    }
    const ssize_t n = ::recv(fd_, data, size, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    return errno == ECONNRESET ? 0 : -2;
  }
}

HttpConnection::ReadEnd HttpConnection::read_response(ResponseParser& parser,
                                                      Clock::time_point deadline) {
  char chunk[16 * 1024];
  for (;;) {
    if (offset_ < buffer_.size()) {
      offset_ += parser.feed(std::string_view(buffer_).substr(offset_));
      if (offset_ == buffer_.size()) {
        buffer_.clear();
        offset_ = 0;
      }
      if (parser.state() == ResponseParser::State::kDone) return ReadEnd::kResponse;
      if (parser.state() == ResponseParser::State::kError) return ReadEnd::kFailed;
    }
    if (Clock::now() > deadline) return ReadEnd::kDeadline;
    // Part of a response is here and the rest is not: acknowledge what came at once. A server
    // that writes its headers and its body in two send() calls (Python's http.server does) holds
    // the body under Nagle until the headers are acknowledged, and on a keep-alive connection
    // Linux delays that ACK by 40 ms or more. TCP_QUICKACK sends the pending ACK now; it is not
    // sticky, so it is set each time. A response that arrives whole (nginx) never gets here.
    if (parser.started()) ack_now();
    const long n = receive(chunk, sizeof chunk);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n == -1) return parser.started() ? ReadEnd::kFailed : ReadEnd::kTimeout;
    if (!parser.started()) return ReadEnd::kNothing;
    if (n == 0) {
      parser.end_of_stream();
      return parser.state() == ResponseParser::State::kDone ? ReadEnd::kResponse : ReadEnd::kFailed;
    }
    return ReadEnd::kFailed;
  }
}

}  // namespace folderhook::delivery
