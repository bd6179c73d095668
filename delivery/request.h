// Request: one delivery as agent/ hands it to delivery/: everything needed to send it, so that
// a delivery in the outbox never depends on the rules in force when it is retried. `fields`
// say what happened, whatever the URL's kind; method, query, body and content_type are the
// HTTP framing of the same fields that the folder's settings chose (a multipart upload also
// carries the file's bytes). A sink builds its message from what it needs: HTTP sends the
// framing, NATS a JSON object of the fields (payload.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace folderhook::delivery {

struct Request {
  std::string id;                   // assigned by the outbox when committed; stable across retries
  std::string method = "GET";       // GET | POST
  std::vector<std::string> urls;    // first is primary, the rest redundant, tried in order
  std::string query;                // appended to each URL after '?' (no leading '?'); may be empty
  std::string body;                 // POST only
  std::string content_type;         // POST only
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, in order
  std::string secret;               // "whsec_..." enables Standard Webhooks signatures; "" = none
  // The operation's fields (action, interface, path, destination, at, username, type, and
  // test for test-hook) as (name, exact bytes), in order. Empty in rows written before
  // version 3 of the outbox's encoding (those only ever had HTTP URLs).
  std::vector<std::pair<std::string, std::string>> fields;
  // The folder's settings for sinks other than HTTP, by name ("nats_token", "nats_creds": the
  // path of an NKey/JWT .creds file), in order, and its lane's pacing ("max_per_second",
  // "batch_max", "batch_wait_ms": lane_policy.h). Secrets: never logged.
  std::vector<std::pair<std::string, std::string>> settings;
  // Labels for logs, status and dead-letter email; never sent.
  std::string action;
  std::string path;
  std::string rule;                 // the folder rule's path, groups dead-letter emails
  int64_t created_ms = 0;           // Unix ms when the operation happened
  bool catch_up = false;            // found by a rescan (start, overflow), not a live event
};

// A new id, "msg_" and 32 random hex digits. The outbox gives one to each request committed
// without an id; a sender that must know the id before (a body that holds it) sets its own.
std::string new_request_id();

}  // namespace folderhook::delivery
