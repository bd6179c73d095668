#include "delivery/nats/nats_sink.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "delivery/nats/nats_connection.h"
#include "delivery/nats/nats_url.h"
#include "delivery/payload.h"
#include "delivery/signature.h"

namespace folderhook::delivery {
namespace {

using Verdict = SinkResult::Verdict;

SinkResult not_accepted(std::string error, Verdict verdict = Verdict::kFailed) {
  SinkResult r;
  r.verdict = verdict;
  r.error = std::move(error);
  return r;
}

std::string setting(const Request& r, std::string_view name) {
  for (const auto& [k, v] : r.settings) {
    if (k == name) return v;
  }
  return "";
}

// The message of `request`, or nullptr and its result (rejected: it can never be published).
natsMsg* make_message(const Request& request, const std::string& subject_template,
                      SinkResult& refused) {
  if (request.fields.empty()) {
    refused = not_accepted("the stored delivery has no fields (written by a version before NATS "
                     "support): replay it to publish it",
                     Verdict::kRejected);
    return nullptr;
  }
  const auto subject = nats_subject(subject_template, request.action);
  if (!subject) {
    refused = not_accepted("the subject '" + subject_template + "' with action '" + request.action +
                         "' is not a subject to publish to",
                     Verdict::kRejected);
    return nullptr;
  }
  const std::string body = fields_json(request.fields).dump();
  const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  std::string signature;
  if (!request.secret.empty()) {
    std::string error;
    auto signed_value = sign_webhook(request.secret, request.id, std::stoll(ts), body, error);
    if (!signed_value) {
      refused = not_accepted(error);
      return nullptr;
    }
    signature = std::move(*signed_value);
  }
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject->c_str(), nullptr, body.data(),
                                static_cast<int>(body.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Msg-Id", request.id.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "webhook-id", request.id.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "webhook-timestamp", ts.c_str());
  if (s == NATS_OK && !signature.empty()) {
    s = natsMsgHeader_Set(msg, "webhook-signature", signature.c_str());
  }
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Content-Type", "application/json");
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    refused = not_accepted("cannot build the NATS message: " + std::string(natsStatus_GetText(s)));
    return nullptr;
  }
  return msg;
}

// What a negative acknowledgement means, in the operator's words.
std::string ack_error(const jsPubAckErr& err, const natsMsg* msg) {
  const char* subject = natsMsg_GetSubject(msg);
  const std::string subj = subject != nullptr ? subject : "";
  if (err.Err == NATS_NO_RESPONDERS) {
    return "no JetStream stream captures subject '" + subj +
           "' (or JetStream is not enabled on the server)";
  }
  if (err.ErrCode != 0) {
    return "JetStream refused the message on '" + subj + "': " +
           (err.ErrText != nullptr ? err.ErrText : "") + " (error code " +
           std::to_string(static_cast<int>(err.ErrCode)) + ")";
  }
  std::string text = "JetStream publish failed on '" + subj + "': " + natsStatus_GetText(err.Err);
  if (err.ErrText != nullptr && *err.ErrText != '\0') text += std::string(" (") + err.ErrText + ")";
  return text;
}

class NatsSink final : public Sink {
 public:
  explicit NatsSink(const SinkOptions& options) : options_(options) {}
  ~NatsSink() override { connections_.clear(); }

  std::vector<SinkResult> deliver(const std::vector<const Request*>& requests,
                                  const std::string& url) override {
    std::vector<SinkResult> results(requests.size());
    std::string error;
    const auto parsed = parse_nats_url(url, error);
    if (!parsed) {
      for (auto& r : results) r = not_accepted("invalid NATS URL: " + error, Verdict::kRejected);
      return results;
    }
    // Runs of consecutive requests with the same credentials share a connection.
    for (size_t begin = 0; begin < requests.size();) {
      NatsTarget target{*parsed, setting(*requests[begin], "nats_token"),
                        setting(*requests[begin], "nats_creds")};
      size_t end = begin + 1;
      while (end < requests.size() && setting(*requests[end], "nats_token") == target.token &&
             setting(*requests[end], "nats_creds") == target.creds_file) {
        ++end;
      }
      publish(requests, begin, end, target, results);
      begin = end;
    }
    return results;
  }

  void abort() override {
    std::lock_guard lock(mu_);
    aborted_ = true;
    cv_.notify_all();
  }

 private:
  // The batch whose acknowledgements are awaited: Nats-Msg-Id -> its result.
  struct Awaited {
    std::map<std::string, SinkResult*> results;
  };

  NatsConnection* connection(const NatsTarget& target, std::string& error) {
    auto& c = connections_[target.key()];
    if (c && c->closed()) c.reset();
    if (!c) {
      c = NatsConnection::open(
          target, options_,
          [this](natsMsg* msg, jsPubAck* ack, jsPubAckErr* err) { on_ack(msg, ack, err); }, error);
    }
    return c.get();
  }

  // Library thread: fills in the result of the message, if it is still awaited.
  void on_ack(natsMsg* msg, jsPubAck* ack, jsPubAckErr* err) {
    const char* id = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK || id == nullptr) return;
    std::lock_guard lock(mu_);
    if (awaited_ == nullptr) return;
    const auto it = awaited_->results.find(id);
    if (it == awaited_->results.end()) return;
    if (ack != nullptr) {
      it->second->verdict = Verdict::kAccepted;
      it->second->error.clear();
    } else {
      *it->second = not_accepted(err != nullptr ? ack_error(*err, msg) : "JetStream publish failed");
    }
    awaited_->results.erase(it);
    if (awaited_->results.empty()) cv_.notify_all();
  }

  void publish(const std::vector<const Request*>& requests, size_t begin, size_t end,
               const NatsTarget& target, std::vector<SinkResult>& results) {
    {
      std::lock_guard lock(mu_);
      if (aborted_) {
        for (size_t i = begin; i < end; ++i) results[i] = not_accepted(std::string(kAborted));
        return;
      }
    }
    std::string error;
    NatsConnection* conn = connection(target, error);
    if (conn == nullptr) {
      for (size_t i = begin; i < end; ++i) results[i] = not_accepted(error);
      return;
    }
    Awaited awaited;
    {
      std::lock_guard lock(mu_);
      awaited_ = &awaited;
    }
    for (size_t i = begin; i < end; ++i) {
      natsMsg* msg = make_message(*requests[i], target.url.subject, results[i]);
      if (msg == nullptr) continue;
      results[i] = not_accepted("no acknowledgement from JetStream within " +
                          std::to_string(options_.timeout.count()) + " ms");
      {
        // Awaited before it leaves: its acknowledgement may come before the call returns.
        std::lock_guard lock(mu_);
        awaited.results[requests[i]->id] = &results[i];
      }
      const natsStatus s = js_PublishMsgAsync(conn->publisher(), &msg, nullptr);
      if (s != NATS_OK) {
        std::lock_guard lock(mu_);
        awaited.results.erase(requests[i]->id);
        results[i] = not_accepted("cannot publish to NATS: " + nats_error_text(s));
      }
      natsMsg_Destroy(msg);  // no-op when the library took it
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, options_.timeout, [&] { return aborted_ || awaited.results.empty(); });
    const bool unanswered = !awaited.results.empty();
    if (aborted_) {
      for (auto& [id, result] : awaited.results) result->error = std::string(kAborted);
    }
    awaited_ = nullptr;
    lock.unlock();
    // Those still unanswered are failed (the retry carries the same Nats-Msg-Id); their late
    // acknowledgements must not count for a later batch.
    if (unanswered) conn->forget_pending();
  }

  SinkOptions options_;
  std::map<std::string, std::unique_ptr<NatsConnection>> connections_;  // owner thread
  std::mutex mu_;
  std::condition_variable cv_;
  Awaited* awaited_ = nullptr;  // guarded by mu_
  bool aborted_ = false;        // guarded by mu_
};

}  // namespace

std::unique_ptr<Sink> make_nats_sink(const SinkOptions& options) {
  return std::make_unique<NatsSink>(options);
}

}  // namespace folderhook::delivery
