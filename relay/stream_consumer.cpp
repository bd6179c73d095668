#include "relay/stream_consumer.h"

#include "delivery/sink.h"

namespace folderhook::relay {
namespace {

using delivery::nats_error_text;

constexpr int64_t kNanosPerMs = 1'000'000;
// JetStream's error code for "consumer not found" and "stream not found".
constexpr int kConsumerNotFound = 10014;
constexpr int kStreamNotFound = 10059;

std::string js_error(natsStatus s, jsErrCode code) {
  std::string text = nats_error_text(s);
  if (code != 0) text += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
  return text;
}

}  // namespace

std::string header_of(natsMsg* msg, const char* name) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, name, &value) != NATS_OK || value == nullptr) return "";
  return value;
}

std::unique_ptr<StreamConsumer> StreamConsumer::connect(const RelayConfig& config,
                                                        std::string& error) {
  std::unique_ptr<StreamConsumer> c(new StreamConsumer(config));
  delivery::NatsTarget target{config.relay.url, config.relay.token, config.relay.creds_file};
  delivery::SinkOptions options;
  options.timeout = config.base.delivery.timeout;
  options.ca_file = config.base.delivery.ca_file;
  c->connection_ =
      delivery::NatsConnection::open(target, options, [](natsMsg*, jsPubAck*, jsPubAckErr*) {},
                                     error);
  if (!c->connection_) return nullptr;
  c->ack_wait_ = ack_wait_for(config);
  return c;
}

std::unique_ptr<StreamConsumer> StreamConsumer::open(const RelayConfig& config,
                                                     std::string& error) {
  auto c = connect(config, error);
  if (!c) return nullptr;
  if (!c->ensure_dead_stream(error) || !c->ensure_consumer(error)) return nullptr;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = config.relay.stream.c_str();
  so.Consumer = config.relay.consumer.c_str();
  so.ManualAck = true;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_PullSubscribe(&c->sub_, c->js(), "", config.relay.consumer.c_str(),
                                        nullptr, &so, &code);
  if (s != NATS_OK) {
    error = "cannot bind to the consumer '" + config.relay.consumer + "': " + js_error(s, code);
    return nullptr;
  }
  return c;
}

bool StreamConsumer::ensure_consumer(std::string& error) {
  const RelaySettings& r = config_.relay;
  jsConsumerInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&info, js(), r.stream.c_str(), r.consumer.c_str(), nullptr,
                                    &code);
  if (s == NATS_OK) {
    // Another relay (or an earlier run) made it: its AckWait is the one the server applies.
    if (info->Config != nullptr && info->Config->AckWait > 0)
      ack_wait_ = std::chrono::milliseconds(info->Config->AckWait / kNanosPerMs);
    jsConsumerInfo_Destroy(info);
    return true;
  }
  if (code == kStreamNotFound) {
    error = "the stream '" + r.stream + "' does not exist (folderhook nats-stream makes it)";
    return false;
  }
  if (s != NATS_NOT_FOUND && code != kConsumerNotFound) {
    error = "cannot read the consumer '" + r.consumer + "': " + js_error(s, code);
    return false;
  }
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = r.consumer.c_str();
  cc.Description = "folderhook relay";
  cc.AckPolicy = js_AckExplicit;
  cc.DeliverPolicy = js_DeliverAll;
  cc.AckWait = ack_wait_.count() * kNanosPerMs;
  // Unlimited: the relay counts attempts against [delivery] retry and makes the dead letter.
  cc.MaxDeliver = -1;
  code = static_cast<jsErrCode>(0);
  s = js_AddConsumer(&info, js(), r.stream.c_str(), &cc, nullptr, &code);
  if (s != NATS_OK) {
    error = "cannot create the consumer '" + r.consumer + "' on stream '" + r.stream +
            "': " + js_error(s, code);
    return false;
  }
  jsConsumerInfo_Destroy(info);
  return true;
}

bool StreamConsumer::ensure_dead_stream(std::string& error) {
  const RelaySettings& r = config_.relay;
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js(), r.dead_stream.c_str(), nullptr, &code);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(info);
    return true;
  }
  // The dead letters get the source stream's replicas and storage, so that they are as safe.
  jsStreamInfo* source = nullptr;
  code = static_cast<jsErrCode>(0);
  s = js_GetStreamInfo(&source, js(), r.stream.c_str(), nullptr, &code);
  if (s != NATS_OK) {
    error = code == kStreamNotFound
                ? "the stream '" + r.stream + "' does not exist (folderhook nats-stream makes it)"
                : "cannot read the stream '" + r.stream + "': " + js_error(s, code);
    return false;
  }
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = r.dead_stream.c_str();
  const char* subjects[] = {r.dead_subject.c_str()};
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = source->Config != nullptr ? source->Config->Storage : js_FileStorage;
  sc.Replicas = source->Config != nullptr ? source->Config->Replicas : 1;
  jsStreamInfo_Destroy(source);
  code = static_cast<jsErrCode>(0);
  s = js_AddStream(&info, js(), &sc, nullptr, &code);
  if (s != NATS_OK) {
    error = "cannot create the dead-letter stream '" + r.dead_stream + "' on subject '" +
            r.dead_subject + "': " + js_error(s, code);
    return false;
  }
  jsStreamInfo_Destroy(info);
  return true;
}

StreamConsumer::~StreamConsumer() {
  if (sub_ != nullptr) {
    // Leaves the durable consumer in place: it is shared, and holds what is pending.
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }
}

std::vector<Fetched> StreamConsumer::fetch(int batch, std::chrono::milliseconds wait,
                                           std::string& error) {
  std::vector<Fetched> out;
  natsMsgList list{};
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = natsSubscription_Fetch(&list, sub_, batch, wait.count(), &code);
  if (s == NATS_TIMEOUT) return out;
  if (s != NATS_OK) {
    error = "cannot fetch from the consumer: " + js_error(s, code);
    natsMsgList_Destroy(&list);
    return out;
  }
  for (int i = 0; i < list.Count; ++i) {
    Fetched f;
    f.msg = list.Msgs[i];
    list.Msgs[i] = nullptr;  // ours now
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, f.msg) == NATS_OK) {
      f.stream_seq = meta->Sequence.Stream;
      f.delivered = static_cast<int>(meta->NumDelivered);
      jsMsgMetaData_Destroy(meta);
    }
    f.id = header_of(f.msg, "webhook-id");
    if (f.id.empty()) f.id = header_of(f.msg, "Nats-Msg-Id");
    if (f.id.empty()) f.id = "seq-" + std::to_string(f.stream_seq);
    out.push_back(std::move(f));
  }
  natsMsgList_Destroy(&list);
  return out;
}

bool StreamConsumer::ack(const Fetched& m, std::string& error) {
  const natsStatus s = natsMsg_Ack(m.msg, nullptr);
  if (s != NATS_OK) error = "cannot acknowledge: " + nats_error_text(s);
  return s == NATS_OK;
}

bool StreamConsumer::nak(const Fetched& m, std::chrono::milliseconds delay, std::string& error) {
  const natsStatus s = natsMsg_NakWithDelay(m.msg, delay.count(), nullptr);
  if (s != NATS_OK) error = "cannot send the negative acknowledgement: " + nats_error_text(s);
  return s == NATS_OK;
}

bool StreamConsumer::in_progress(const Fetched& m) {
  return natsMsg_InProgress(m.msg, nullptr) == NATS_OK;
}

void StreamConsumer::release(Fetched& m) {
  natsMsg_Destroy(m.msg);
  m.msg = nullptr;
}

bool StreamConsumer::publish_dead(const Fetched& m, const DeadInfo& info, std::string& error) {
  natsMsg* dead = nullptr;
  const char* data = natsMsg_GetData(m.msg);
  natsStatus s = natsMsg_Create(&dead, config_.relay.dead_subject.c_str(), nullptr, data,
                                natsMsg_GetDataLength(m.msg));
  const auto set = [&](const char* name, const std::string& value) {
    if (s == NATS_OK) s = natsMsgHeader_Set(dead, name, value.c_str());
  };
  // Copy the original's headers (webhook-id, webhook-timestamp, ...) but not its Nats-Msg-Id:
  // the same operation may die again after a replay, and must not be dropped as a duplicate.
  const char** keys = nullptr;
  int count = 0;
  if (s == NATS_OK && natsMsgHeader_Keys(m.msg, &keys, &count) == NATS_OK) {
    for (int i = 0; i < count; ++i) {
      const std::string key = keys[i];
      if (key == "Nats-Msg-Id" || key.rfind("Folderhook-", 0) == 0) continue;
      set(keys[i], header_of(m.msg, keys[i]));
    }
    free(static_cast<void*>(keys));
  }
  // This dead letter's own id: a publish sent again after a lost acknowledgement is dropped.
  set("Nats-Msg-Id", "dead." + info.id + "." + std::to_string(info.stream_seq) + "." +
                         std::to_string(info.attempts));
  set("webhook-id", info.id);
  set("Folderhook-Subject", info.subject);
  set("Folderhook-Stream-Seq", std::to_string(info.stream_seq));
  set("Folderhook-Attempts", std::to_string(info.attempts));
  set("Folderhook-Last-Status", std::to_string(info.last_status));
  set("Folderhook-Last-Error", info.last_error.empty() ? "-" : info.last_error);
  set("Folderhook-Url", info.url.empty() ? "-" : info.url);
  set("Folderhook-Died-Ms", std::to_string(info.died_ms));
  jsPubAck* ack = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (s == NATS_OK) s = js_PublishMsg(&ack, js(), dead, nullptr, &code);
  natsMsg_Destroy(dead);
  jsPubAck_Destroy(ack);
  if (s != NATS_OK) {
    error = "cannot store the dead letter in '" + config_.relay.dead_stream + "': " +
            js_error(s, code);
    return false;
  }
  return true;
}

bool StreamConsumer::figures(ConsumerFigures& out, std::string& error) {
  jsConsumerInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetConsumerInfo(&info, js(), config_.relay.stream.c_str(),
                                          config_.relay.consumer.c_str(), nullptr, &code);
  if (s != NATS_OK) {
    error = "cannot read the consumer '" + config_.relay.consumer + "': " + js_error(s, code);
    return false;
  }
  out.pending = info->NumPending;
  out.ack_pending = info->NumAckPending;
  out.redelivered = info->NumRedelivered;
  out.waiting = info->NumWaiting;
  out.delivered_seq = info->Delivered.Stream;
  jsConsumerInfo_Destroy(info);
  return true;
}

}  // namespace folderhook::relay
