#include "relay/dead_letters.h"

#include <cstdlib>

#include "relay/message.h"

namespace folderhook::relay {
namespace {

int64_t to_int(const std::string& text) {
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  return end != text.c_str() ? v : 0;
}

std::string js_text(natsStatus s, jsErrCode code) {
  std::string text = delivery::nats_error_text(s);
  if (code != 0) text += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
  return text;
}

// Reads each stored message of the dead-letter stream in order and hands it to `each` (which
// must not destroy it).
bool each_dead(StreamConsumer& consumer, std::string& error,
               const std::function<bool(uint64_t seq, natsMsg* msg)>& each) {
  const std::string& stream = consumer.config().relay.dead_stream;
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, consumer.js(), stream.c_str(), nullptr, &code);
  if (s != NATS_OK) {
    error = "cannot read the dead-letter stream '" + stream + "': " + js_text(s, code);
    return false;
  }
  const uint64_t first = info->State.FirstSeq;
  const uint64_t last = info->State.LastSeq;
  const uint64_t count = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  if (count == 0) return true;
  for (uint64_t seq = first; seq <= last; ++seq) {
    natsMsg* msg = nullptr;
    code = static_cast<jsErrCode>(0);
    s = js_GetMsg(&msg, consumer.js(), stream.c_str(), seq, nullptr, &code);
    if (s == NATS_NOT_FOUND || (s != NATS_OK && code == 10037)) continue;  // removed
    if (s != NATS_OK) {
      error = "cannot read dead letter " + std::to_string(seq) + ": " + js_text(s, code);
      return false;
    }
    const bool go_on = each(seq, msg);
    natsMsg_Destroy(msg);
    if (!go_on) break;
  }
  return true;
}

RelayDeadLetter read_dead(uint64_t seq, natsMsg* msg) {
  RelayDeadLetter d;
  d.seq = seq;
  d.info.id = header_of(msg, "webhook-id");
  d.info.subject = header_of(msg, "Folderhook-Subject");
  d.info.stream_seq = static_cast<uint64_t>(to_int(header_of(msg, "Folderhook-Stream-Seq")));
  d.info.attempts = static_cast<int>(to_int(header_of(msg, "Folderhook-Attempts")));
  d.info.last_status = static_cast<int>(to_int(header_of(msg, "Folderhook-Last-Status")));
  d.info.last_error = header_of(msg, "Folderhook-Last-Error");
  d.info.url = header_of(msg, "Folderhook-Url");
  d.info.died_ms = to_int(header_of(msg, "Folderhook-Died-Ms"));
  std::string why;
  if (auto fields = decode_fields(
          std::string_view(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)), why)) {
    d.action = field(*fields, "action");
    d.path = field(*fields, "path");
  }
  return d;
}

}  // namespace

std::optional<std::vector<RelayDeadLetter>> list_relay_dead_letters(StreamConsumer& consumer,
                                                                    std::string& error) {
  std::vector<RelayDeadLetter> out;
  if (!each_dead(consumer, error, [&](uint64_t seq, natsMsg* msg) {
        out.push_back(read_dead(seq, msg));
        return true;
      }))
    return std::nullopt;
  return out;
}

int replay_relay_dead_letters(StreamConsumer& consumer, std::optional<int64_t> since_unix_ms,
                              const std::optional<std::string>& id, std::string& error) {
  int moved = 0;
  const std::string& dead_stream = consumer.config().relay.dead_stream;
  const bool ok = each_dead(consumer, error, [&](uint64_t seq, natsMsg* msg) {
    const RelayDeadLetter d = read_dead(seq, msg);
    if (id && d.info.id != *id) return true;
    if (since_unix_ms && d.info.died_ms < *since_unix_ms) return true;
    if (d.info.subject.empty()) {
      error = "dead letter " + std::to_string(seq) + " does not say its subject";
      return false;
    }
    natsMsg* again = nullptr;
    natsStatus s = natsMsg_Create(&again, d.info.subject.c_str(), nullptr, natsMsg_GetData(msg),
                                  natsMsg_GetDataLength(msg));
    const char** keys = nullptr;
    int count = 0;
    if (s == NATS_OK && natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
      for (int i = 0; i < count && s == NATS_OK; ++i) {
        const std::string key = keys[i];
        if (key == "Nats-Msg-Id" || key.rfind("Folderhook-", 0) == 0) continue;
        s = natsMsgHeader_Set(again, keys[i], header_of(msg, keys[i]).c_str());
      }
      free(static_cast<void*>(keys));
    }
    // A new Nats-Msg-Id: the original's may still be in the stream's duplicate window. The
    // dead letter's sequence makes a replay sent twice (a lost acknowledgement) count once.
    const std::string msg_id = d.info.id + ".replay." + dead_stream + "." + std::to_string(seq);
    if (s == NATS_OK) s = natsMsgHeader_Set(again, "Nats-Msg-Id", msg_id.c_str());
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    if (s == NATS_OK) s = js_PublishMsg(&ack, consumer.js(), again, nullptr, &code);
    natsMsg_Destroy(again);
    jsPubAck_Destroy(ack);
    if (s != NATS_OK) {
      error = "cannot publish dead letter " + std::to_string(seq) + " to '" + d.info.subject +
              "': " + js_text(s, code);
      return false;
    }
    code = static_cast<jsErrCode>(0);
    s = js_DeleteMsg(consumer.js(), dead_stream.c_str(), seq, nullptr, &code);
    if (s != NATS_OK) {
      error = "dead letter " + std::to_string(seq) + " was put back but not removed from '" +
              dead_stream + "': " + js_text(s, code);
      return false;
    }
    ++moved;
    return !id.has_value();
  });
  if (!ok) return -1;
  return moved;
}

}  // namespace folderhook::relay
