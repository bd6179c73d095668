#include "delivery/http_sender.h"

#include <httplib.h>
#include <netdb.h>
#include <openssl/x509.h>

#include <atomic>
#include <map>
#include <mutex>

namespace folderhook::delivery {
namespace {

using Clock = std::chrono::steady_clock;

std::string describe_connect_failure(const Url& url) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(url.host.c_str(), nullptr, &hints, &res);
  if (res != nullptr) ::freeaddrinfo(res);
  if (rc != 0) {
    return "DNS lookup of '" + url.host + "' failed: " + ::gai_strerror(rc);
  }
  return "cannot connect to " + url.host + ":" + std::to_string(url.port) +
         " (connection refused or host unreachable)";
}

class HttplibSender final : public HttpSender {
 public:
  HttplibSender(std::chrono::milliseconds timeout, std::string ca_file)
      : timeout_(timeout), ca_file_(std::move(ca_file)) {}

  HttpResult send(const HttpCall& call) override {
    HttpResult result;
    httplib::Client* client = client_for(call.url);
    if (client == nullptr) {
      result.error = "aborted";
      return result;
    }
    const auto start = Clock::now();
    const auto deadline = start + 2 * timeout_;
    std::string cancel_reason;
    size_t received = 0;

    httplib::Request req;
    req.method = call.method;
    req.path = call.target;
    for (const auto& [k, v] : call.headers) req.headers.emplace(k, v);
    if (call.method == "POST") {
      req.body = call.body;
      req.headers.emplace("Content-Type",
                          call.content_type.empty() ? "application/json" : call.content_type);
    }
    req.response_handler = [&](const httplib::Response& res) {
      result.status = res.status;
      result.retry_after = res.get_header_value("Retry-After");
      return true;
    };
    req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
      received += len;
      if (result.body.size() < kKeptResponseBody) {
        result.body.append(data, std::min(len, kKeptResponseBody - result.body.size()));
      }
      if (received > kMaxResponseBody) {
        cancel_reason = "response body larger than " + std::to_string(kMaxResponseBody / 1024) +
                        " KiB; stopped reading";
        return false;
      }
      if (Clock::now() > deadline) {
        cancel_reason = "response not complete within " +
                        std::to_string(2 * timeout_.count()) + " ms; stopped reading";
        return false;
      }
      return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    const bool ok = client->send(req, res, err);
    if (aborted_.load()) {
      result.error = "aborted";
      return result;
    }
    if (ok) {
      // The response handler is not called for every response (a 204 has no body).
      if (result.status == 0) {
        result.status = res.status;
        result.retry_after = res.get_header_value("Retry-After");
      }
      return result;
    }
    switch (err) {
      case httplib::Error::Canceled:
        result.error = cancel_reason.empty() ? "request canceled" : cancel_reason;
        break;
      case httplib::Error::Connection:
        result.error = describe_connect_failure(call.url);
        break;
      case httplib::Error::ConnectionTimeout:
        result.error = "connect to " + call.url.host + ":" + std::to_string(call.url.port) +
                       " timed out after " + std::to_string(timeout_.count()) + " ms";
        break;
      case httplib::Error::Read:
        result.error = result.status != 0
                           ? "response body cut short (connection dropped or read timed out)"
                           : "no response within " + std::to_string(timeout_.count()) +
                                 " ms or connection dropped (read failed)";
        break;
      case httplib::Error::Write:
        result.error = "sending the request failed (connection dropped or write timed out)";
        break;
      case httplib::Error::SSLConnection:
        result.error = "TLS handshake with " + call.url.host + " failed";
        break;
      case httplib::Error::SSLServerVerification: {
        const long v = client->get_openssl_verify_result();
        result.error = "TLS certificate of " + call.url.host + " not trusted: " +
                       (v != 0 ? X509_verify_cert_error_string(v) : "verification failed");
        break;
      }
      case httplib::Error::SSLLoadingCerts:
        result.error = "cannot load CA certificates from " + ca_file_;
        break;
      default:
        result.error = "HTTP request failed: " + httplib::to_string(err);
        break;
    }
    // A failed connection is not reused.
    drop_client(call.url);
    return result;
  }

  void abort() override {
    std::lock_guard lock(mu_);
    aborted_.store(true);
    for (auto& [key, client] : clients_) client->stop();
  }

 private:
  static std::string key_of(const Url& url) {
    return url.origin() + "\n" + url.user + "\n" + url.password;
  }

  httplib::Client* client_for(const Url& url) {
    std::lock_guard lock(mu_);
    if (aborted_.load()) return nullptr;
    const std::string key = key_of(url);
    if (const auto it = clients_.find(key); it != clients_.end()) return it->second.get();
    // An unbounded number of origins would hold sockets forever; old ones reconnect on demand.
    if (clients_.size() >= 64) clients_.clear();
    auto client = std::make_unique<httplib::Client>(url.origin());
    client->set_keep_alive(true);
    client->set_follow_location(false);
    client->set_url_encode(false);
    client->set_connection_timeout(timeout_);
    client->set_read_timeout(timeout_);
    client->set_write_timeout(timeout_);
    if (url.scheme == "https") {
      client->set_ca_cert_path(ca_file_);
      client->enable_server_certificate_verification(true);
    }
    if (!url.user.empty() || !url.password.empty()) client->set_basic_auth(url.user, url.password);
    auto* raw = client.get();
    clients_.emplace(key, std::move(client));
    return raw;
  }

  void drop_client(const Url& url) {
    std::lock_guard lock(mu_);
    clients_.erase(key_of(url));
  }

  const std::chrono::milliseconds timeout_;
  const std::string ca_file_;
  std::mutex mu_;  // guards clients_ against abort() from another thread
  std::map<std::string, std::unique_ptr<httplib::Client>> clients_;
  std::atomic<bool> aborted_{false};
};

}  // namespace

std::unique_ptr<HttpSender> make_http_sender(std::chrono::milliseconds timeout,
                                             std::string ca_file) {
  return std::make_unique<HttplibSender>(timeout, std::move(ca_file));
}

}  // namespace folderhook::delivery
