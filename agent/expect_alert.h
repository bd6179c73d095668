// What an expectation sends (expect_tracker.h's events): the alert Request that goes through
// the outbox to alert_urls, like a webhook of the folder, and the email through [notify]. Pure.
//
// The body is JSON: {"expectation", "folder", "due", "seen": 0, "event": "missed"} for a missed
// deadline; {"expectation", "folder", "due", "seen": 1, "event": "arrived", "path", "at"} for
// its late file. The Request carries the folder's headers, secret (Standard Webhooks
// signature) and NATS settings, so that a receiver that verifies the folder's webhooks
// verifies its alerts too. Its id is derived from the folder, the expectation, the deadline and
// the event, so that an alert sent again after a crash carries the same webhook-id.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/config.h"
#include "agent/expect_tracker.h"
#include "delivery/request.h"

namespace folderhook::agent {

// "msg_" and 32 hex digits, the same for the same arguments.
std::string expect_request_id(const std::string& folder, const std::string& name, int64_t due_s,
                              ExpectEvent::Kind kind);

delivery::Request make_expect_request(const FolderRule& folder, const Expectation& expectation,
                                      const ExpectEvent& event, std::string_view root);

// The email (RFC 5322, CRLF line ends) for [notify]'s addresses.
std::string build_expect_email(const FolderRule& folder, const Expectation& expectation,
                               const ExpectEvent& event, std::string_view root,
                               const NotifyConfig& notify, int64_t now_ms);

}  // namespace folderhook::agent
