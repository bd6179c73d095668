#include "delivery/http/sender.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>

#include "delivery/http/connection.h"
#include "delivery/signature.h"

namespace folderhook::delivery {
namespace {

using Clock = std::chrono::steady_clock;

std::string serialize(const HttpCall& call) {
  const Url& url = call.url;
  const bool default_port = (url.scheme == "http" && url.port == 80) ||
                            (url.scheme == "https" && url.port == 443);
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (!default_port) host += ":" + std::to_string(url.port);
  const bool post = call.method == "POST";
  std::string out;
  out.reserve(256 + call.target.size() + call.body.size());
  out.append(call.method).append(" ").append(call.target).append(" HTTP/1.1\r\nHost: ");
  out.append(host).append("\r\n");
  for (const auto& [name, value] : call.headers) out.append(name).append(": ").append(value).append("\r\n");
  if (!url.user.empty() || !url.password.empty()) {
    out.append("Authorization: Basic ").append(base64_encode(url.user + ":" + url.password)).append("\r\n");
  }
  if (post) {
    out.append("Content-Type: ")
        .append(call.content_type.empty() ? "application/json" : call.content_type)
        .append("\r\n");
  }
  if (post || !call.body.empty()) {
    out.append("Content-Length: ").append(std::to_string(call.body.size())).append("\r\n");
  }
  out.append("\r\n").append(call.body);
  return out;
}

class PipeliningSender final : public HttpSender {
 public:
  PipeliningSender(std::chrono::milliseconds timeout, std::string ca_file, int connections)
      : timeout_(timeout),
        ca_file_(std::move(ca_file)),
        connections_(static_cast<size_t>(std::max(1, connections))) {}
  ~PipeliningSender() override {
    origins_.clear();
    if (tls_ != nullptr) free_tls_context(tls_);
  }

  HttpResult send(const HttpCall& call) override {
    std::vector<HttpResult> results(1);
    send_run(&call, 1, results.data());
    return std::move(results[0]);
  }

  std::vector<HttpResult> send_batch(const std::vector<HttpCall>& calls) override {
    std::vector<HttpResult> results(calls.size());
    for (size_t i = 0; i < calls.size();) {
      size_t j = i + 1;
      const std::string key = key_of(calls[i].url);
      while (j < calls.size() && key_of(calls[j].url) == key) ++j;
      if (connections_ > 1) {
        size_t k = i;
        const NextCall next = [&](HttpCall& call, size_t& tag) {
          if (k == j) return false;
          call = calls[k];
          tag = k++;
          return true;
        };
        const CallDone done = [&](size_t tag, HttpResult&& result) {
          results[tag] = std::move(result);
        };
        // Each round takes one at least; one that cannot connect fails up to one a connection.
        while (k < j) {
          if (aborted_.load()) {
            for (; k < j; ++k) results[k].error = "aborted";
            break;
          }
          spread(calls[i].url, next, done, -1);
        }
      } else {
        send_run(&calls[i], j - i, &results[i]);
      }
      i = j;
    }
    return results;
  }

  bool send_stream(const Url& url, const NextCall& next, const CallDone& done,
                   int wake_fd) override {
    if (connections_ == 1) return false;
    spread(url, next, done, wake_fd);
    return true;
  }

  void abort() override {
    std::lock_guard lock(mu_);
    aborted_.store(true);
    for (auto& [key, origin] : origins_) {
      if (origin.conn) origin.conn->shutdown();
      for (auto& conn : origin.more) {
        if (conn) conn->shutdown();
      }
    }
  }

 private:
  struct Origin {
    std::unique_ptr<HttpConnection> conn;  // the pipelined one; the first of a spread
    int answered = 0;     // responses read on conn
    bool serial = false;  // the receiver does not take pipelined requests
    std::vector<std::unique_ptr<HttpConnection>> more;  // a spread's other connections
  };

  static std::string key_of(const Url& url) {
    return url.origin() + "\n" + url.user + "\n" + url.password;
  }

  std::string no_response() const {
    return "no response within " + std::to_string(timeout_.count()) +
           " ms or connection dropped (read failed)";
  }

  void drop(Origin& origin) {
    drop(origin.conn);
    origin.answered = 0;
  }
  void drop(std::unique_ptr<HttpConnection>& conn) {
    std::lock_guard lock(mu_);
    conn.reset();
  }

  // Opens a connection to the origin of `url` into `into`. "" on success.
  std::string connect(const Url& url, std::unique_ptr<HttpConnection>& into) {
    std::string error;
    if (url.scheme == "https" && tls_ == nullptr) {
      tls_ = make_tls_context(ca_file_, error);
      if (tls_ == nullptr) return error;
    }
    auto conn = HttpConnection::open(url, timeout_, tls_, error);
    if (!conn) return error;
    std::lock_guard lock(mu_);
    if (aborted_.load()) return "aborted";
    into = std::move(conn);
    return "";
  }

  // A response that ended in kDeadline or kFailed: what was read of it, and why it failed.
  void record_broken(HttpConnection::ReadEnd kind, const ResponseParser& parser,
                     HttpResult& r) const {
    r.status = parser.status();
    r.body = parser.body();
    if (kind == HttpConnection::ReadEnd::kDeadline) {
      r.error = "response not complete within " + std::to_string(2 * timeout_.count()) +
                " ms; stopped reading";
    } else if (parser.body_too_large()) {
      r.error = parser.error();
    } else if (parser.status() != 0) {
      r.error = "response body cut short (connection dropped or read timed out)";
    } else if (!parser.error().empty()) {
      r.error = "invalid response: " + parser.error();
    } else {
      r.error = no_response();
    }
  }

  Origin& origin_for(const Url& url) {
    std::lock_guard lock(mu_);
    // An unbounded number of origins would hold sockets forever; old ones reconnect on demand.
    const std::string key = key_of(url);
    if (origins_.size() >= 64 && origins_.find(key) == origins_.end()) origins_.clear();
    return origins_[key];
  }

  // Calls to one origin. Each round writes what the window allows, then reads the responses
  // in order; a round ends early when the connection ends, and the unanswered calls go into
  // the next round on a new connection. Every round answers or fails at least one call,
  // except a round on a reused connection that the receiver had closed (it is retried once,
  // on a fresh connection).
  void send_run(const HttpCall* calls, size_t n, HttpResult* results) {
    Origin& origin = origin_for(calls[0].url);
    std::vector<std::string> wire(n);
    for (size_t i = 0; i < n; ++i) wire[i] = serialize(calls[i]);
    const auto fail_rest = [&](size_t from, const std::string& error) {
      for (size_t k = from; k < n; ++k) results[k].error = error;
    };
    size_t next = 0;
    std::string out;
    while (next < n) {
      if (aborted_.load()) return fail_rest(next, "aborted");
      const bool reused = origin.conn != nullptr;
      if (!reused) {
        // A receiver that cannot be reached fails every call of the run alike.
        if (std::string error = connect(calls[0].url, origin.conn); !error.empty()) {
          return fail_rest(next, aborted_.load() ? "aborted" : error);
        }
        origin.answered = 0;
      }
      size_t end = next + 1;
      size_t bytes = wire[next].size();
      while (!origin.serial && end < n && bytes + wire[end].size() <= kMaxPipelinedBytes) {
        bytes += wire[end++].size();
      }
      bool written;
      if (end == next + 1) {
        written = origin.conn->write_all(wire[next]);
      } else {
        out.clear();
        for (size_t k = next; k < end; ++k) out += wire[k];
        written = origin.conn->write_all(out);
      }
      if (!written) {
        drop(origin);
        if (aborted_.load()) return fail_rest(next, "aborted");
        if (reused) continue;  // a keep-alive connection the receiver had closed
        results[next++].error = "sending the request failed (connection dropped or write timed out)";
        continue;
      }
      next = read_round(calls, next, end, reused, origin, results);
    }
  }

  // Reads the responses of calls [first, end); returns the first call not yet done.
  size_t read_round(const HttpCall* calls, size_t first, size_t end, bool reused, Origin& origin,
                    HttpResult* results) {
    for (size_t k = first; k < end; ++k) {
      ResponseParser parser(calls[k].method == "HEAD", kMaxResponseBody, kKeptResponseBody);
      const auto kind = origin.conn->read_response(parser, Clock::now() + 2 * timeout_);
      if (aborted_.load()) {
        drop(origin);
        for (size_t i = k; i < end; ++i) results[i].error = "aborted";
        return end;
      }
      HttpResult& r = results[k];
      const bool pipelined = k > first;
      switch (kind) {
        case HttpConnection::ReadEnd::kResponse:
          r.status = parser.status();
          r.body = parser.body();
          r.retry_after = parser.retry_after();
          ++origin.answered;
          if (!parser.keep_alive()) {
            // A receiver that closes after each response gets one request at a time.
            if (k + 1 < end && origin.answered <= 1) origin.serial = true;
            drop(origin);
            return k + 1;
          }
          continue;
        case HttpConnection::ReadEnd::kNothing:
          // Closed without a word: stale keep-alive, or a receiver that stops reading
          // pipelined requests. Sent again on a new connection, once.
          if (pipelined && origin.answered <= 1) origin.serial = true;
          drop(origin);
          if (reused || pipelined) return k;
          r.error = no_response();
          return k + 1;
        case HttpConnection::ReadEnd::kTimeout:
          drop(origin);
          if (pipelined) {
            // It may never have read the requests behind the first: no more pipelining.
            origin.serial = true;
            return k;
          }
          r.error = no_response();
          return k + 1;
        case HttpConnection::ReadEnd::kDeadline:
        case HttpConnection::ReadEnd::kFailed:
          record_broken(kind, parser, r);
          drop(origin);
          return k + 1;
      }
    }
    return end;
  }

  // One call of a stream in flight, or waiting to be written again.
  struct Pending {
    HttpCall call;
    size_t tag = 0;
  };
  // Calls to one origin spread over its connections (spread()).
  struct Spread {
    const NextCall& next;
    const CallDone& done;
    Origin& origin;
    struct Slot {
      Pending pending;
      bool busy = false;
      bool reused = false;  // written on a connection an earlier call had used
      Clock::time_point sent;
    };
    std::vector<Slot> slots;
    std::deque<Pending> again;  // taken from next() and not in flight: written first
    bool asked_empty = false;   // next() had nothing: asked again after an answer or a wake
    std::string unreachable;    // set once a connection could not be opened: no more are
    std::vector<pollfd> fds;
    std::vector<size_t> polled;  // fds[i] belongs to slots[polled[i]]; wake_fd's comes after
  };

  std::unique_ptr<HttpConnection>& conn_of(Origin& origin, size_t slot) {
    return slot == 0 ? origin.conn : origin.more[slot - 1];
  }

  // A call that fails before it is in flight.
  static HttpResult failed(std::string error) {
    HttpResult r;
    r.error = std::move(error);
    return r;
  }

  // The engine of send_stream() and of a spread send_batch(): the calls next() gives, spread
  // over up to connections_ connections to `url`'s origin, one request in flight on each
  // (never pipelined), each written as soon as a connection is free, their answers awaited
  // together in one poll() so that one wake-up may take several. A call whose reused
  // connection the receiver had closed (a stale keep-alive) is written again on another. Once
  // a connection cannot be opened, no more are opened: the calls the open ones cannot take
  // fail with that error, up to one a connection.
  void spread(const Url& url, const NextCall& next, const CallDone& done, int wake_fd) {
    Spread run{next, done, origin_for(url), {}, {}, false, {}, {}, {}};
    {
      std::lock_guard lock(mu_);
      run.origin.more.resize(connections_ - 1);
    }
    run.slots.resize(connections_);
    for (;;) {
      if (aborted_.load()) {
        for (auto& slot : run.slots) {
          if (slot.busy) done(slot.pending.tag, failed("aborted"));
        }
        for (auto& p : run.again) done(p.tag, failed("aborted"));
        return;
      }
      size_t busy = 0;
      for (size_t s = 0; s < run.slots.size(); ++s) {
        while (!run.slots[s].busy && take(run) && start(run, s)) {
        }
        busy += run.slots[s].busy;
      }
      if (busy == 0) {
        // Nothing in flight: next() has nothing, or no connection can be opened. Then what was
        // taken fails with that error, and more up to one a connection (as that many senders
        // would each have): the rest are asked for again, and tried on a new connection.
        const bool aborted = aborted_.load();
        for (size_t failed_calls = 1; !run.again.empty(); ++failed_calls) {
          done(run.again.front().tag, failed(aborted ? "aborted" : run.unreachable));
          run.again.pop_front();
          Pending p;
          if (run.again.empty() && !aborted && failed_calls < connections_ &&
              next(p.call, p.tag)) {
            run.again.push_back(std::move(p));
          }
        }
        return;
      }
      await(run, wake_fd);
    }
  }

  // Makes sure run.again holds the next call to write. false when there is none now.
  bool take(Spread& run) {
    if (!run.again.empty()) return true;
    if (run.asked_empty || !run.unreachable.empty()) return false;
    Pending p;
    if (!run.next(p.call, p.tag)) {
      run.asked_empty = true;
      return false;
    }
    run.again.push_back(std::move(p));
    return true;
  }

  // Writes run.again's first call on connection `s`, opening it first if need be. false when
  // the connection could not be opened; true when it carries the call, or when the call failed
  // or went back to the queue and the connection is free again.
  bool start(Spread& run, size_t s) {
    auto& conn = conn_of(run.origin, s);
    auto& slot = run.slots[s];
    slot.reused = conn != nullptr;
    if (!slot.reused) {
      if (!run.unreachable.empty()) return false;
      if (std::string error = connect(run.again.front().call.url, conn); !error.empty()) {
        run.unreachable = error;
        return false;
      }
    }
    slot.pending = std::move(run.again.front());
    run.again.pop_front();
    if (!conn->write_all(serialize(slot.pending.call))) {
      drop(conn);
      if (slot.reused && !aborted_.load()) {
        run.again.push_front(std::move(slot.pending));  // a keep-alive connection the receiver had closed
      } else {
        run.done(slot.pending.tag,
                 failed(aborted_.load()
                            ? "aborted"
                            : "sending the request failed (connection dropped or write timed out)"));
      }
      return true;
    }
    slot.busy = true;
    slot.sent = Clock::now();
    return true;
  }

  // Waits for an answer on the busy connections (at most until the first of them is due), or
  // for `wake_fd` when next() had nothing; then reads every answer that arrived and fails every
  // call past its due time.
  void await(Spread& run, int wake_fd) {
    run.fds.clear();
    run.polled.clear();
    bool ready = false;
    auto due = Clock::time_point::max();
    for (size_t s = 0; s < run.slots.size(); ++s) {
      if (!run.slots[s].busy) continue;
      const auto& conn = conn_of(run.origin, s);
      ready = ready || conn->buffered();
      due = std::min(due, run.slots[s].sent + timeout_);
      run.fds.push_back(pollfd{conn->fd(), POLLIN, 0});
      run.polled.push_back(s);
    }
    const size_t answers = run.fds.size();
    const bool more_wanted = run.asked_empty && run.unreachable.empty() && wake_fd >= 0 &&
                             answers < run.slots.size();
    if (more_wanted) run.fds.push_back(pollfd{wake_fd, POLLIN, 0});
    if (answers == 1 && !more_wanted && run.again.empty() && !ready) {
      // Nothing else to wait for: a blocking read, as send() does, saves the poll.
      return finish(run, run.polled[0]);
    }
    // With bytes already read somewhere, only a look at the others (one that is due may have
    // its answer waiting too).
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(due - Clock::now());
    const int wait = ready ? 0 : static_cast<int>(std::max<int64_t>(0, left.count()));
    if (::poll(run.fds.data(), run.fds.size(), wait) < 0) return;  // EINTR: looked at again
    if (more_wanted && run.fds.back().revents != 0) {
      uint64_t count;
      (void)!::read(wake_fd, &count, sizeof count);
      run.asked_empty = false;
    }
    const auto now = Clock::now();
    for (size_t i = 0; i < answers; ++i) {
      const size_t s = run.polled[i];
      if (run.fds[i].revents != 0 || conn_of(run.origin, s)->buffered()) {
        finish(run, s);
      } else if (now >= run.slots[s].sent + timeout_) {
        run.slots[s].busy = false;
        drop(conn_of(run.origin, s));
        run.done(run.slots[s].pending.tag, failed(no_response()));
        run.asked_empty = false;
      }
    }
  }

  // Reads the answer to the call in flight on connection `s`; the connection is free again.
  void finish(Spread& run, size_t s) {
    auto& conn = conn_of(run.origin, s);
    auto& slot = run.slots[s];
    slot.busy = false;
    run.asked_empty = false;  // a free connection: worth asking next() again
    ResponseParser parser(slot.pending.call.method == "HEAD", kMaxResponseBody,
                          kKeptResponseBody);
    const auto kind = conn->read_response(parser, slot.sent + 2 * timeout_);
    HttpResult r;
    if (kind == HttpConnection::ReadEnd::kResponse) {
      r.status = parser.status();
      r.body = parser.body();
      r.retry_after = parser.retry_after();
      if (!parser.keep_alive()) drop(conn);
      return run.done(slot.pending.tag, std::move(r));
    }
    drop(conn);
    if (aborted_.load()) {
      r.error = "aborted";
    } else if (kind == HttpConnection::ReadEnd::kNothing && slot.reused) {
      // Closed without a word: a stale keep-alive. Written again on another connection.
      return run.again.push_front(std::move(slot.pending));
    } else if (kind == HttpConnection::ReadEnd::kNothing ||
               kind == HttpConnection::ReadEnd::kTimeout) {
      r.error = no_response();
    } else {
      record_broken(kind, parser, r);
    }
    run.done(slot.pending.tag, std::move(r));
  }

  const std::chrono::milliseconds timeout_;
  const std::string ca_file_;
  const size_t connections_;  // > 1: a batch is spread over that many, never pipelined
  SSL_CTX* tls_ = nullptr;  // made at the first https call
  std::mutex mu_;  // guards origins_' connections against abort() from another thread
  std::map<std::string, Origin> origins_;
  std::atomic<bool> aborted_{false};
};

}  // namespace

std::unique_ptr<HttpSender> make_http_sender(std::chrono::milliseconds timeout,
                                             std::string ca_file, int connections) {
  return std::make_unique<PipeliningSender>(timeout, std::move(ca_file), connections);
}

}  // namespace folderhook::delivery
