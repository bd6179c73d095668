#include "agent/expect_alert.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "agent/log.h"
#include "agent/webhook.h"
#include "delivery/payload.h"

namespace folderhook::agent {
namespace {

std::string at_s(int64_t s) {
  return format_at(std::chrono::system_clock::time_point(std::chrono::seconds(s)));
}

std::string at_ms(int64_t ms) {
  return format_at(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

uint64_t fnv1a(std::string_view text, uint64_t h) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::vector<std::pair<std::string, std::string>> alert_fields(const FolderRule& folder,
                                                              const Expectation& e,
                                                              const ExpectEvent& ev,
                                                              std::string_view root) {
  const bool missed = ev.kind == ExpectEvent::Kind::kMissed;
  std::vector<std::pair<std::string, std::string>> fields = {
      {"expectation", e.name},
      {"folder", reported_path(folder.path, root)},
      {"due", at_s(ev.due_s)},
      {"seen", missed ? "0" : "1"},
      {"event", missed ? "missed" : "arrived"}};
  if (!missed) {
    fields.emplace_back("path", reported_path(ev.path, root));
    fields.emplace_back("at", at_ms(ev.arrived_ms));
  }
  return fields;
}

}  // namespace

std::string expect_request_id(const std::string& folder, const std::string& name, int64_t due_s,
                              ExpectEvent::Kind kind) {
  std::string key = folder;
  key += '\0';
  key += name;
  key += '\0';
  key += std::to_string(due_s);
  key += '\0';
  key += kind == ExpectEvent::Kind::kMissed ? "missed" : "arrived";
  char hex[40];
  std::snprintf(hex, sizeof hex, "%016llx%016llx",
                static_cast<unsigned long long>(fnv1a(key, 14695981039346656037ULL)),
                static_cast<unsigned long long>(fnv1a(key, 0x9e3779b97f4a7c15ULL)));
  return std::string("msg_") + hex;
}

delivery::Request make_expect_request(const FolderRule& folder, const Expectation& expectation,
                                      const ExpectEvent& event, std::string_view root) {
  delivery::Request r;
  r.id = expect_request_id(folder.path, expectation.name, event.due_s, event.kind);
  r.method = "POST";
  r.urls = expectation.alert_urls;
  r.fields = alert_fields(folder, expectation, event, root);
  nlohmann::json body = delivery::fields_json(r.fields);
  body["seen"] = event.kind == ExpectEvent::Kind::kMissed ? 0 : 1;
  r.body = body.dump();
  r.content_type = "application/json";
  r.headers = folder.headers;
  r.secret = folder.secret;
  r.settings = folder.nats_settings;  // no pacing: an alert is one request, in its own lane
  r.action = event.kind == ExpectEvent::Kind::kMissed ? "expect-missed" : "expect-arrived";
  r.path = event.kind == ExpectEvent::Kind::kMissed ? folder.path : event.path;
  r.rule = folder.path;
  r.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  return r;
}

std::string build_expect_email(const FolderRule& folder, const Expectation& e,
                               const ExpectEvent& ev, std::string_view root,
                               const NotifyConfig& notify, int64_t now_ms) {
  const bool missed = ev.kind == ExpectEvent::Kind::kMissed;
  std::string to;
  for (const std::string& t : notify.to) to += (to.empty() ? "" : ", ") + t;
  const std::time_t now = static_cast<std::time_t>(now_ms / 1000);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &utc);
  const std::string name = display_value(e.name);
  const std::string where = display_value(reported_path(folder.path, root));
  std::string m;
  m += std::string("Date: ") + date + "\r\n";
  m += "From: " + notify.from + "\r\n";
  m += "To: " + to + "\r\n";
  m += "Subject: folderhook: " +
       (missed ? "no file arrived in " + where + " by " + at_s(ev.due_s)
               : "the late file arrived in " + where) +
       " (" + name + ")\r\n";
  m += "Message-ID: <" + expect_request_id(folder.path, e.name, ev.due_s, ev.kind) + "." +
       std::to_string(now_ms) + "@folderhook>\r\n";
  m += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n\r\n";
  if (missed) {
    m += "No file matching the expectation '" + name + "' was created, updated, moved or copied "
         "into " + where + " between the previous deadline and " + at_s(ev.due_s) + ".\r\n";
  } else {
    m += "The expectation '" + name + "' of " + where + " missed its deadline of " +
         at_s(ev.due_s) + "; a file has now arrived: " + display_value(reported_path(ev.path, root)) +
         " at " + at_ms(ev.arrived_ms) + ".\r\n";
  }
  return m;
}

}  // namespace folderhook::agent
