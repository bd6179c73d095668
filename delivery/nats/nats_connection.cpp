#include "delivery/nats/nats_connection.h"

#include <vector>

namespace folderhook::delivery {

std::string NatsTarget::key() const {
  std::string k = url.user + '\n' + url.password + '\n' + token + '\n' + creds_file;
  for (const auto& s : url.servers) k += '\n' + s;
  return k;
}

std::string nats_error_text(natsStatus status) {
  std::string text = natsStatus_GetText(status);
  // The last error of this thread often names the cause ("authorization violation").
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail != nullptr && *detail != '\0' && last == status && text != detail) {
    // "(jsm.c:1033): replicas > 1 ...": the library's source position is no use to an operator.
    std::string said = detail;
    if (const auto at = said.find("): "); said.front() == '(' && at != std::string::npos) {
      said = said.substr(at + 3);
    }
    text += ": " + said;
  }
  return text;
}

std::unique_ptr<NatsConnection> NatsConnection::open(const NatsTarget& target,
                                                     const SinkOptions& options, AckHandler on_ack,
                                                     std::string& error) {
  std::unique_ptr<NatsConnection> c(new NatsConnection());
  c->handler_ = std::move(on_ack);
  std::vector<const char*> servers;
  for (const auto& s : target.url.servers) servers.push_back(s.c_str());
  const auto timeout = static_cast<int64_t>(options.timeout.count());
  natsStatus s = natsOptions_Create(&c->opts_);
  if (s == NATS_OK) {
    s = natsOptions_SetServers(c->opts_, servers.data(), static_cast<int>(servers.size()));
  }
  // Tried in the order given: the first is the one a lane's publishes go to while it is up.
  if (s == NATS_OK) s = natsOptions_SetNoRandomize(c->opts_, true);
  if (s == NATS_OK) s = natsOptions_SetTimeout(c->opts_, timeout);
  // Once connected, the library reconnects (to any server of the list) on its own and keeps
  // what is published meanwhile; an acknowledgement that does not come in time fails the
  // attempt, and the retry carries the same Nats-Msg-Id.
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(c->opts_, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(c->opts_, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(c->opts_, 250);
  if (s == NATS_OK && !target.url.user.empty()) {
    s = natsOptions_SetUserInfo(c->opts_, target.url.user.c_str(), target.url.password.c_str());
  }
  if (s == NATS_OK && !target.token.empty()) s = natsOptions_SetToken(c->opts_, target.token.c_str());
  if (s == NATS_OK && !target.creds_file.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(c->opts_, target.creds_file.c_str(), nullptr);
  }
  if (s == NATS_OK && target.url.tls) {
    s = natsOptions_SetSecure(c->opts_, true);
    if (s == NATS_OK) s = natsOptions_LoadCATrustedCertificates(c->opts_, options.ca_file.c_str());
  }
  if (s != NATS_OK) {
    error = "cannot set up the NATS connection: " + nats_error_text(s);
    return nullptr;
  }
  s = natsConnection_Connect(&c->nc_, c->opts_);
  if (s != NATS_OK) {
    error = "cannot connect to NATS: " + nats_error_text(s);
    return nullptr;
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = timeout;
  jo.PublishAsync.AckHandler = &NatsConnection::on_ack;
  jo.PublishAsync.AckHandlerClosure = c.get();
  // What may await an acknowledgement at once: a batch, with room for one that timed out.
  jo.PublishAsync.MaxPending = 4 * 2048;
  jo.PublishAsync.StallWait = timeout;
  s = natsConnection_JetStream(&c->js_, c->nc_, &jo);
  if (s != NATS_OK) {
    error = "cannot make a JetStream context: " + nats_error_text(s);
    return nullptr;
  }
  return c;
}

NatsConnection::~NatsConnection() {
  // Closed first: no acknowledgement handler runs after this.
  if (nc_ != nullptr) natsConnection_Close(nc_);
  if (js_ != nullptr) {
    forget_pending();
    jsCtx_Destroy(js_);
  }
  natsConnection_Destroy(nc_);
  natsOptions_Destroy(opts_);
}

bool NatsConnection::closed() const {
  return nc_ == nullptr || natsConnection_Status(nc_) == NATS_CONN_STATUS_CLOSED;
}

void NatsConnection::forget_pending() {
  if (!published_) return;
  natsMsgList pending;
  if (js_PublishAsyncGetPendingList(&pending, js_) == NATS_OK) natsMsgList_Destroy(&pending);
}

void NatsConnection::on_ack(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* err, void* self) {
  static_cast<NatsConnection*>(self)->handler_(msg, ack, err);
  natsMsg_Destroy(msg);
}

}  // namespace folderhook::delivery
