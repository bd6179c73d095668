// The relay's handling of one message or one batch (relay_impl.h): the attempt, then the
// acknowledgement, the negative acknowledgement with the retry's delay, or the dead letter.
#include <algorithm>
#include <chrono>

#include "delivery/attempt.h"
#include "delivery/batch.h"
#include "delivery/retry.h"
#include "relay/relay_impl.h"

namespace folderhook::relay::detail {
namespace {

using namespace std::chrono_literals;

// The most messages one fetch asks for while a batch forms.
constexpr size_t kMaxGatherFetch = 256;

int64_t ms_since(RelayClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(RelayClock::now() - start).count();
}

// Folds one URL set's attempt into the message's outcome.
void fold(Outcome& o, const delivery::AttemptResult& r, const agent::FolderRule& rule) {
  o.url = r.url;
  o.status = r.status;
  o.rule = rule.path;
  if (r.delivered) return;
  o.delivered = false;
  if (!r.urls.empty() && r.urls.back().error == delivery::kAborted) o.aborted = true;
  o.rejected = o.rejected && r.rejected;
  if (!o.error.empty()) o.error += "; ";
  o.error += r.error;
  if (r.retry_after && (!o.retry_after || *r.retry_after > *o.retry_after))
    o.retry_after = r.retry_after;
}

}  // namespace

void Relay::log_delivery(std::string_view level, const Pending& p, const std::string& id,
                         int attempt, const Outcome& o, std::string_view outcome, int64_t ms,
                         size_t batch, const std::string& next_at) {
  const Fields none;
  const Fields& fields = p.fields ? *p.fields : none;
  nlohmann::json f = {{"id", id},
                      {"action", field(fields, "action")},
                      {"path", field(fields, "path")},
                      {"url", o.url},
                      {"attempt", attempt},
                      {"status", o.status},
                      {"error", o.error},
                      {"ms", ms},
                      {"stream_seq", p.m.stream_seq},
                      {"outcome", outcome}};
  if (!next_at.empty()) f["next_at"] = next_at;
  if (batch > 0) f["batch"] = batch;
  log_.write(level, "delivery", f);
}

Outcome Relay::deliver(const Pending& p) {
  Outcome o;
  for (const agent::FolderRule* rule : p.rules) {
    if (!pacing_.wait_turn(*rule, *stop_, touch_every_, [this] { keep_alive(); })) {
      o.delivered = false;
      o.aborted = true;
      return o;
    }
    // A batching folder that shares the message with another gets it as a batch of one (the
    // body it expects), under the message's own id.
    const delivery::Request single = relay_request(*p.fields, *rule, p.m.id);
    const delivery::Request request =
        rule->pacing.batching() ? delivery::batch_request(p.m.id, {&single}) : single;
    const delivery::AttemptResult r = delivery::run_attempt(request, sinks_);
    counters_.attempts += r.urls.size();
    fold(o, r, *rule);
  }
  if (o.delivered) o.rejected = false;
  return o;
}

void Relay::make_dead(Pending& p, const Outcome& o) {
  DeadInfo info;
  info.id = p.m.id;
  info.stream_seq = p.m.stream_seq;
  const char* subject = natsMsg_GetSubject(p.m.msg);
  info.subject = subject != nullptr ? subject : "";
  info.attempts = p.m.delivered;
  info.last_status = o.status;
  info.last_error = o.error;
  info.url = o.url;
  info.died_ms = relay_now_ms();
  std::string error;
  // Kept before it is acknowledged: a relay that dies in between makes it again (same
  // Nats-Msg-Id in the dead-letter stream, so it is stored once).
  if (!consumer_->publish_dead(p.m, info, error)) {
    log_.write("error", "dead letter not stored; the message will be handed out again",
               {{"id", p.m.id}, {"error", error}});
    return;  // no answer: handed out again after AckWait
  }
  if (!consumer_->ack(p.m, error)) log_.write("warn", "acknowledgement failed", {{"error", error}});
  ++counters_.dead;
  email_.add(o.rule.empty() ? std::string("(no folder)") : o.rule, o.url,
             p.fields ? field(*p.fields, "path") : "", p.m.id, o.status, o.error, info.died_ms);
}

void Relay::finish(const std::vector<Pending*>& members, const Outcome& o, const std::string& id,
                   int64_t ms) {
  const Pending& first = *members.front();
  const size_t batch = members.size() > 1 || id != first.m.id ? members.size() : 0;
  int attempt = 0;
  for (const Pending* p : members) attempt = std::max(attempt, p->m.delivered);
  std::string error;
  if (o.delivered) {
    log_delivery("info", first, id, attempt, o, "delivered", ms, batch);
    for (Pending* p : members) {
      if (!consumer_->ack(p->m, error))
        log_.write("warn", "acknowledgement failed", {{"error", error}});
    }
    counters_.delivered += members.size();
    return;
  }
  if (o.aborted) {
    // Stopping: handed back at once for another relay (or the next start).
    for (Pending* p : members) consumer_->nak(p->m, 0ms, error);
    return;
  }
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  // One delay for every member of a batch: they come back together, to be sent together again.
  const auto delay = o.rejected ? std::nullopt
                                : delivery::retry_delay(config_.base.delivery.retry, attempt,
                                                        unit(rng_), o.retry_after);
  if (delay) {
    log_delivery("warn", first, id, attempt, o, "retry", ms, batch,
                 delivery::format_iso_utc(relay_now_ms() + delay->count()));
    for (Pending* p : members) {
      if (!consumer_->nak(p->m, *delay, error))
        log_.write("warn", "negative acknowledgement failed", {{"error", error}});
    }
    counters_.retried += members.size();
    return;
  }
  log_delivery("error", first, id, attempt, o, "dead", ms, batch);
  for (Pending* p : members) make_dead(*p, o);
}

void Relay::handle_front() {
  Pending& p = pending_.front();
  const auto start = RelayClock::now();
  if (!p.fields) {
    Outcome o;
    o.delivered = false;
    o.error = p.why;
    log_delivery("error", p, p.m.id, p.m.delivered, o, "dead", 0, 0);
    make_dead(p, o);
  } else if (p.rules.empty()) {
    ++counters_.unrouted;
    log_.write("debug", "no folder wants the message",
               {{"id", p.m.id}, {"path", field(*p.fields, "path")}});
    std::string error;
    if (!consumer_->ack(p.m, error)) log_.write("warn", "acknowledgement failed", {{"error", error}});
  } else {
    const Outcome o = deliver(p);
    finish({&p}, o, p.m.id, ms_since(start));
  }
  consumer_->release(p.m);
  pending_.pop_front();
}

std::vector<size_t> Relay::batch_now() const {
  std::vector<Routes> routes;
  routes.reserve(pending_.size());
  for (const Pending& p : pending_) routes.push_back(p.rules);
  return batch_positions(routes);
}

void Relay::handle_batch() {
  const agent::FolderRule& folder = *pending_.front().rules.front();
  // A batch leaves full, or once its oldest message has waited batch_wait since it was fetched;
  // meanwhile the stream may have more for it.
  const auto deadline = pending_.front().fetched_at + folder.pacing.batch_wait;
  std::vector<size_t> at = batch_now();
  while (at.size() < folder.pacing.batch_max && !*stop_ && RelayClock::now() < deadline) {
    maybe_keep_alive();
    const auto wait = std::min<std::chrono::milliseconds>(
        1s, std::chrono::ceil<std::chrono::milliseconds>(deadline - RelayClock::now()));
    std::string error;
    auto more = consumer_->fetch(
        static_cast<int>(std::min(folder.pacing.batch_max - at.size(), kMaxGatherFetch)), wait,
        error);
    if (!error.empty()) break;  // send what there is
    if (more.empty()) continue;
    add_fetched(std::move(more));
    at = batch_now();
  }
  if (*stop_) return;  // drain() hands everything back
  std::vector<Pending*> members;
  for (size_t i : at) members.push_back(&pending_[i]);
  // In stream order (a redelivered set may come back in another): the same set, the same body
  // and id.
  std::sort(members.begin(), members.end(),
            [](const Pending* a, const Pending* b) { return a->m.stream_seq < b->m.stream_seq; });
  std::vector<delivery::Request> requests;
  std::vector<std::string> ids;
  requests.reserve(members.size());
  for (const Pending* p : members) {
    requests.push_back(relay_request(*p->fields, folder, p->m.id));
    ids.push_back(p->m.id);
  }
  std::vector<const delivery::Request*> parts;
  for (const auto& r : requests) parts.push_back(&r);
  const std::string id = relay_batch_id(ids);
  if (!pacing_.wait_turn(folder, *stop_, touch_every_, [this] { keep_alive(); })) return;
  const auto start = RelayClock::now();
  const delivery::AttemptResult r = delivery::run_attempt(delivery::batch_request(id, parts), sinks_);
  counters_.attempts += r.urls.size();
  Outcome o;
  fold(o, r, folder);
  if (o.delivered) o.rejected = false;
  finish(members, o, id, ms_since(start));
  // Answered: out of pending_, the last first so that the positions stay right.
  std::sort(at.rbegin(), at.rend());
  for (size_t i : at) {
    consumer_->release(pending_[i].m);
    pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

}  // namespace folderhook::relay::detail
