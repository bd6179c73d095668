// Receiver: a real HTTP(S) server on 127.0.0.1 that records every request and answers it: a
// fixed status (set_status, set_delay), or a Script that decides each answer (a status, a body,
// headers, an answer that never comes, a body that never ends). Query strings are decoded
// here, independently of the agent's encoder. The one receiver of every suite.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
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
  std::string target;     // path and raw query, exactly as sent
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

// The most requests of `hooks` (in the order received) read within any `window`: what a
// paced sender may not exceed.
size_t busiest(const std::vector<Webhook>& hooks, std::chrono::milliseconds window);

// Decodes %XX into the exact bytes; '+' stays '+' (the agent encodes a space as %20).
std::string url_decode(const std::string& text);

// A scripted answer.
struct Reply {
  Reply(int code = 200, std::string text = "",
        std::vector<std::pair<std::string, std::string>> extra = {})
      : status(code), body(std::move(text)), headers(std::move(extra)) {}
  static Reply hanging() {
    Reply r;
    r.hang = true;
    return r;
  }
  static Reply endless() {
    Reply r;
    r.trickle = true;
    return r;
  }
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool hang = false;     // never answer (until the receiver is closed, at most 30 s)
  bool trickle = false;  // 200 with a chunked body that never ends
};

// Decides the answer to the `index`-th request (from 0), on a server thread.
using Script = std::function<Reply(const Webhook& request, int index)>;

class Receiver {
 public:
  // Without a script: set_status() (200 unless set), body "ok", after set_delay(). `port` 0
  // binds any free port; another binds that one (a receiver that comes back where one was).
  explicit Receiver(Script script = {}, int port = 0);
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
  // Waits until `ready(received)` holds, at most `timeout`.
  bool wait(const std::function<bool(const std::vector<Webhook>&)>& ready,
            std::chrono::milliseconds timeout) const;

 private:
  void start(int port);
  Reply answer(const Webhook& hook, int index);

  Script script_;
  std::unique_ptr<httplib::Server> server_;
  bool https_ = false;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<Webhook> received_;
  int status_ = 200;
  std::chrono::milliseconds delay_{0};
  bool closing_ = false;
};

}  // namespace folderhook::test
