#include "relay/relay.h"

#include <signal.h>

#include <chrono>
#include <random>
#include <thread>

#include "delivery/attempt.h"
#include "delivery/retry.h"
#include "delivery/sink_set.h"
#include "delivery/url.h"
#include "relay/dead_email.h"
#include "relay/message.h"
#include "relay/relay_status.h"
#include "relay/stream_consumer.h"

namespace folderhook::relay {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kFetchWait = 1s;        // how long an idle fetch waits (and how soon a stop is seen)
constexpr auto kReconnectWait = 1s;
// Fetches that fail in a row (200 ms apart) before the consumer is bound again from scratch.
constexpr int kFetchFailuresBeforeReopen = 25;

int64_t relay_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What became of one message: every routed URL set's attempt, folded.
struct Outcome {
  bool delivered = true;
  bool rejected = true;  // every failed set refused it for good: dead at once
  bool aborted = false;  // a stop abandoned an attempt: not a failure
  std::optional<delivery::Millis> retry_after;
  int status = 0;
  std::string error;
  std::string url;
  std::string rule;
};

class Relay {
 public:
  Relay(const RelayConfig& config, agent::Log& log)
      : config_(config), log_(log),
        sinks_(delivery::SinkOptions{config.base.delivery.timeout, config.base.delivery.ca_file,
                                     "folderhook",
                                     config.base.delivery.exactly_200
                                         ? delivery::SuccessPolicy::kExactly200
                                         : delivery::SuccessPolicy::kAny2xx}),
        email_(notify_options(config), [&log](std::string_view level, std::string_view msg,
                                              const nlohmann::json& fields) {
          log.write(level, msg, fields);
        }),
        rng_(std::random_device{}()) {}

  int run(const std::atomic<bool>& stop);
  void abort() { sinks_.abort(); }
  RelayCounters& counters() { return counters_; }

 private:
  static delivery::NotifyOptions notify_options(const RelayConfig& config) {
    delivery::NotifyOptions o;
    o.smtp_url = config.base.notify.smtp_url;
    o.from = config.base.notify.from;
    o.to = config.base.notify.to;
    return o;
  }
  void handle(StreamConsumer& consumer, Fetched& m);
  Outcome deliver(const Fetched& m, const Fields& fields,
                  const std::vector<const agent::FolderRule*>& rules);
  void make_dead(StreamConsumer& consumer, Fetched& m, const Fields& fields, const Outcome& o);
  void log_delivery(std::string_view level, const Fetched& m, const Fields& fields,
                    const Outcome& o, std::string_view outcome, int64_t ms,
                    const std::string& next_at = "");

  const RelayConfig& config_;
  agent::Log& log_;
  delivery::SinkSet sinks_;
  DeadEmail email_;
  std::mt19937_64 rng_;
  RelayCounters counters_;
};

void Relay::log_delivery(std::string_view level, const Fetched& m, const Fields& fields,
                         const Outcome& o, std::string_view outcome, int64_t ms,
                         const std::string& next_at) {
  nlohmann::json f = {{"id", m.id},
                      {"action", field(fields, "action")},
                      {"path", field(fields, "path")},
                      {"url", o.url},
                      {"attempt", m.delivered},
                      {"status", o.status},
                      {"error", o.error},
                      {"ms", ms},
                      {"stream_seq", m.stream_seq},
                      {"outcome", outcome}};
  if (!next_at.empty()) f["next_at"] = next_at;
  log_.write(level, "delivery", f);
}

Outcome Relay::deliver(const Fetched& m, const Fields& fields,
                       const std::vector<const agent::FolderRule*>& rules) {
  Outcome o;
  for (const agent::FolderRule* rule : rules) {
    const delivery::Request request = relay_request(fields, *rule, m.id);
    const delivery::AttemptResult r = delivery::run_attempt(request, sinks_);
    counters_.attempts += r.urls.size();
    o.url = r.url;
    o.status = r.status;
    o.rule = rule->path;
    if (r.delivered) continue;
    o.delivered = false;
    if (!r.urls.empty() && r.urls.back().error == delivery::kAborted) o.aborted = true;
    o.rejected = o.rejected && r.rejected;
    if (!o.error.empty()) o.error += "; ";
    o.error += r.error;
    if (r.retry_after && (!o.retry_after || *r.retry_after > *o.retry_after))
      o.retry_after = r.retry_after;
  }
  if (o.delivered) o.rejected = false;
  return o;
}

void Relay::make_dead(StreamConsumer& consumer, Fetched& m, const Fields& fields,
                      const Outcome& o) {
  DeadInfo info;
  info.id = m.id;
  info.stream_seq = m.stream_seq;
  const char* subject = natsMsg_GetSubject(m.msg);
  info.subject = subject != nullptr ? subject : "";
  info.attempts = m.delivered;
  info.last_status = o.status;
  info.last_error = o.error;
  info.url = o.url;
  info.died_ms = relay_now_ms();
  std::string error;
  // Kept before it is acknowledged: a relay that dies in between makes it again (same
  // Nats-Msg-Id in the dead-letter stream, so it is stored once).
  if (!consumer.publish_dead(m, info, error)) {
    log_.write("error", "dead letter not stored; the message will be handed out again",
               {{"id", m.id}, {"error", error}});
    return;  // no answer: handed out again after AckWait
  }
  if (!consumer.ack(m, error)) log_.write("warn", "acknowledgement failed", {{"error", error}});
  ++counters_.dead;
  email_.add(o.rule.empty() ? std::string("(no folder)") : o.rule, o.url,
             field(fields, "path"), m.id, o.status, o.error, info.died_ms);
}

void Relay::handle(StreamConsumer& consumer, Fetched& m) {
  ++counters_.received;
  const auto start = Clock::now();
  std::string error;
  std::string why;
  const std::optional<Fields> fields = decode_fields(
      std::string_view(natsMsg_GetData(m.msg), natsMsg_GetDataLength(m.msg)), why);
  if (!fields) {
    Outcome o;
    o.delivered = false;
    o.error = why;
    log_delivery("error", m, {}, o, "dead", 0);
    make_dead(consumer, m, {}, o);
    return;
  }
  const auto rules = route_fields(config_.base.folders, *fields);
  if (rules.empty()) {
    ++counters_.unrouted;
    log_.write("debug", "no folder wants the message",
               {{"id", m.id}, {"path", field(*fields, "path")}});
    if (!consumer.ack(m, error)) log_.write("warn", "acknowledgement failed", {{"error", error}});
    return;
  }
  const Outcome o = deliver(m, *fields, rules);
  const int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  if (o.delivered) {
    log_delivery("info", m, *fields, o, "delivered", ms);
    if (!consumer.ack(m, error)) log_.write("warn", "acknowledgement failed", {{"error", error}});
    ++counters_.delivered;
    return;
  }
  if (o.aborted) {
    // Stopping: hand it back at once for another relay (or the next start).
    consumer.nak(m, 0ms, error);
    return;
  }
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto delay = o.rejected ? std::nullopt
                                : delivery::retry_delay(config_.base.delivery.retry, m.delivered,
                                                        unit(rng_), o.retry_after);
  if (delay) {
    log_delivery("warn", m, *fields, o, "retry", ms,
                 delivery::format_iso_utc(relay_now_ms() + delay->count()));
    if (!consumer.nak(m, *delay, error)) log_.write("warn", "negative acknowledgement failed",
                                                    {{"error", error}});
    ++counters_.retried;
    return;
  }
  log_delivery("error", m, *fields, o, "dead", ms);
  make_dead(consumer, m, *fields, o);
}

int Relay::run(const std::atomic<bool>& stop) {
  const RelaySettings& r = config_.relay;
  std::unique_ptr<StreamConsumer> consumer;
  bool said_down = false;
  int failed_fetches = 0;
  RelayStatusServer status(config_, counters_);
  if (std::string error; !status.start(error)) {
    log_.write("error", error);
    return 2;
  }
  while (!stop) {
    std::string error;
    if (!consumer) {
      consumer = StreamConsumer::open(config_, error);
      if (!consumer) {
        if (!said_down) log_.write("error", "cannot reach the stream; trying again",
                                   {{"source", delivery::mask_url(r.source)}, {"error", error}});
        said_down = true;
        counters_.connected = false;
        for (int i = 0; i < 10 && !stop; ++i) std::this_thread::sleep_for(kReconnectWait / 10);
        continue;
      }
      said_down = false;
      counters_.connected = true;
      status.set_consumer(consumer.get());
      log_.write("info", "relaying",
                 {{"source", delivery::mask_url(r.source)}, {"stream", r.stream},
                  {"consumer", r.consumer}, {"dead_stream", r.dead_stream},
                  {"ack_wait_ms", consumer->ack_wait().count()},
                  {"folders", config_.base.folders.size()},
                  {"status_listen", status.address()}});
    }
    std::vector<Fetched> batch = consumer->fetch(r.batch, kFetchWait, error);
    if (!error.empty()) {
      counters_.connected = false;
      if (failed_fetches++ == 0) log_.write("warn", "fetch failed; trying again", {{"error", error}});
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (failed_fetches >= kFetchFailuresBeforeReopen) {
        // The consumer may be gone (deleted by hand): open() makes it again.
        status.set_consumer(nullptr);
        consumer.reset();
        failed_fetches = 0;
      }
      continue;
    }
    if (failed_fetches > 0) log_.write("info", "fetching again", {});
    failed_fetches = 0;
    counters_.connected = true;
    auto touched = Clock::now();
    for (size_t i = 0; i < batch.size(); ++i) {
      if (stop) {
        // Not started: handed back at once, not after AckWait.
        std::string ignored;
        consumer->nak(batch[i], 0ms, ignored);
      } else {
        // The rest of the batch waits its turn: keep the server from handing it to another
        // relay meanwhile.
        if (Clock::now() - touched > consumer->ack_wait() / 3) {
          for (size_t j = i; j < batch.size(); ++j) consumer->in_progress(batch[j]);
          touched = Clock::now();
        }
        handle(*consumer, batch[i]);
      }
      consumer->release(batch[i]);
    }
  }
  status.set_consumer(nullptr);
  log_.write("info", "relay stopped",
             {{"delivered", counters_.delivered.load()}, {"retried", counters_.retried.load()},
              {"dead", counters_.dead.load()}});
  return 0;
}

}  // namespace

void block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int run_relay(const RelayConfig& config, agent::Log& log) {
  // Signals are taken by one thread (sigwait), not a handler: it aborts the attempt in flight.
  block_stop_signals();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  std::atomic<bool> stop{false};
  Relay relay(config, log);
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == 0) return;
    stop = true;
    relay.abort();
  });
  const int rc = relay.run(stop);
  if (!stop) pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  log.flush();
  return rc;
}

}  // namespace folderhook::relay
