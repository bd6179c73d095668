#include "relay/relay.h"

#include <signal.h>

#include <chrono>
#include <thread>

#include "delivery/url.h"
#include "relay/relay_impl.h"
#include "relay/relay_status.h"

namespace folderhook::relay {
namespace detail {
namespace {

using namespace std::chrono_literals;

constexpr auto kFetchWait = 1s;        // how long an idle fetch waits (and how soon a stop is seen)
constexpr auto kReconnectWait = 1s;
// Fetches that fail in a row (200 ms apart) before the consumer is bound again from scratch.
constexpr int kFetchFailuresBeforeReopen = 25;

delivery::NotifyOptions notify_options(const RelayConfig& config) {
  delivery::NotifyOptions o;
  o.smtp_url = config.base.notify.smtp_url;
  o.from = config.base.notify.from;
  o.to = config.base.notify.to;
  return o;
}

}  // namespace

int64_t relay_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Relay::Relay(const RelayConfig& config, agent::Log& log)
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
      pacing_(config.base.folders),
      rng_(std::random_device{}()) {}

void Relay::add_fetched(std::vector<Fetched>&& batch) {
  const auto now = RelayClock::now();
  for (Fetched& m : batch) {
    ++counters_.received;
    Pending p;
    p.m = m;
    p.fetched_at = now;
    p.fields = decode_fields(std::string_view(natsMsg_GetData(m.msg), natsMsg_GetDataLength(m.msg)),
                             p.why);
    if (p.fields) p.rules = route_fields(config_.base.folders, *p.fields);
    pending_.push_back(std::move(p));
  }
  batch.clear();  // the messages are pending_'s now
}

void Relay::keep_alive() {
  for (const Pending& p : pending_) consumer_->in_progress(p.m);
  touched_ = RelayClock::now();
}

void Relay::maybe_keep_alive() {
  if (RelayClock::now() - touched_ > touch_every_) keep_alive();
}

void Relay::hand_back_pending() {
  // Not handled: handed back at once (for another relay, or the next start), not after AckWait.
  for (Pending& p : pending_) {
    std::string ignored;
    consumer_->nak(p.m, 0ms, ignored);
    consumer_->release(p.m);
  }
  pending_.clear();
}

void Relay::drain() {
  touched_ = RelayClock::now();
  while (!pending_.empty()) {
    if (*stop_) {
      hand_back_pending();
      return;
    }
    // What waits its turn is kept from being handed to another relay meanwhile.
    maybe_keep_alive();
    if (batched(pending_.front().rules)) {
      handle_batch();
    } else {
      handle_front();
    }
  }
}

int Relay::run(const std::atomic<bool>& stop) {
  const RelaySettings& r = config_.relay;
  stop_ = &stop;
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
      consumer_ = consumer.get();
      touch_every_ = consumer->ack_wait() / 3;
      status.set_consumer(consumer.get());
      log_.write("info", "relaying",
                 {{"source", delivery::mask_url(r.source)}, {"stream", r.stream},
                  {"consumer", r.consumer}, {"dead_stream", r.dead_stream},
                  {"ack_wait_ms", consumer->ack_wait().count()},
                  {"folders", config_.base.folders.size()},
                  {"status_listen", status.address()}});
    }
    std::vector<Fetched> batch =
        consumer->fetch(pacing_.fetch_size(r.batch, kFetchWait), kFetchWait, error);
    if (!error.empty()) {
      counters_.connected = false;
      if (failed_fetches++ == 0) log_.write("warn", "fetch failed; trying again", {{"error", error}});
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (failed_fetches >= kFetchFailuresBeforeReopen) {
        // The consumer may be gone (deleted by hand): open() makes it again.
        status.set_consumer(nullptr);
        consumer_ = nullptr;
        consumer.reset();
        failed_fetches = 0;
      }
      continue;
    }
    if (failed_fetches > 0) log_.write("info", "fetching again", {});
    failed_fetches = 0;
    counters_.connected = true;
    add_fetched(std::move(batch));
    drain();
  }
  status.set_consumer(nullptr);
  consumer_ = nullptr;
  log_.write("info", "relay stopped",
             {{"delivered", counters_.delivered.load()}, {"retried", counters_.retried.load()},
              {"dead", counters_.dead.load()}});
  return 0;
}

}  // namespace detail

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
  detail::Relay relay(config, log);
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
