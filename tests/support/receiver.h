// Receiver: a real HTTP server on 127.0.0.1 that records every request and answers a scripted
// status. Query strings are decoded here, independently of the agent's encoder.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace httplib {
class Server;
}

namespace folderhook::test {

struct Webhook {
  std::string method;
  std::string path;
  std::string raw_query;  // exactly as sent, without '?'
  std::vector<std::pair<std::string, std::string>> params;  // decoded, in the order sent
  std::map<std::string, std::string> headers;               // lower-case names
  std::string body;  // empty for multipart/form-data: see parts
  // multipart/form-data parts as cpp-httplib's server decodes them: name -> (filename, bytes).
  std::map<std::string, std::pair<std::string, std::string>> parts;
  // When the receiver had read it (before it answers): what pacing tests measure.
  std::chrono::steady_clock::time_point at{};

  // The decoded value of `name`; "<absent>" when the request does not have it.
  std::string param(const std::string& name) const;
  bool has(const std::string& name) const;
  // The header's value ("" when absent); `name` in lower case.
  std::string header(const std::string& name) const;
  std::vector<std::string> names() const;
};

// Decodes %XX into the exact bytes; '+' stays '+' (the agent encodes a space as %20).
std::string url_decode(const std::string& text);

class Receiver {
 public:
  Receiver();
  // An HTTPS receiver with this certificate chain and key (PEM files).
  Receiver(const std::string& cert_file, const std::string& key_file);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/hook") const;

  void set_status(int status);
  // Each request is recorded at once, then answered after `delay`.
  void set_delay(std::chrono::milliseconds delay);
  std::vector<Webhook> received() const;
  size_t count() const;
  // Waits until at least `n` requests have arrived. False when the timeout passed first.
  bool wait_for(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  void start();

  std::unique_ptr<httplib::Server> server_;
  bool https_ = false;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<Webhook> received_;
  int status_ = 200;
  std::chrono::milliseconds delay_{0};
};

}  // namespace folderhook::test
