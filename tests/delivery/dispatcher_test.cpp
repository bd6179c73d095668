// The dispatcher against real HTTP receivers on 127.0.0.1.
#include "delivery/dispatcher.h"

#include <doctest/doctest.h>

#include <set>

#include "delivery/attempt.h"
#include "harness.h"

using namespace folderhook::delivery;
using namespace folderhook::delivery::test;

namespace {

Request make(const std::vector<std::string>& urls, const std::string& query,
             const std::string& path = "/demo/a.txt") {
  Request r;
  r.urls = urls;
  r.query = query;
  r.action = "create";
  r.path = path;
  r.rule = "/demo";
  return r;
}

std::vector<nlohmann::json> with_outcome(const std::vector<nlohmann::json>& lines,
                                         const std::string& outcome) {
  std::vector<nlohmann::json> out;
  for (const auto& l : lines) {
    if (l.value("msg", "") == "delivery" && l.value("outcome", "") == outcome) out.push_back(l);
  }
  return out;
}

size_t count_outcome(const std::vector<nlohmann::json>& lines, const std::string& outcome) {
  return with_outcome(lines, outcome).size();
}

// A dispatcher whose attempts give up after `timeout`, with its retry too far off to come
// within a test: what the first attempts log is all there is.
auto open_first_attempts_only(const TempDir& dir, LogCollector& log,
                              std::chrono::milliseconds timeout) {
  auto options = test_options(dir.path());
  options.timeout = timeout;
  options.retry = {10'000ms};
  std::string error;
  auto d = open_dispatcher(options, log.logger(), error);
  REQUIRE_MESSAGE(d, error);
  return d;
}

}  // namespace

TEST_CASE("first attempts carry the webhook headers and leave in submission order") {
  TempDir dir;
  Receiver rx;
  LogCollector log;
  auto options = test_options(dir.path());
  options.first_senders = 1;  // one sender: leaving in order means arriving in order
  std::string error;
  auto d = open_dispatcher(options, log.logger(), error);
  REQUIRE_MESSAGE(d, error);
  std::vector<Request> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(make({rx.url()}, "n=" + std::to_string(i)));
  const auto before = std::chrono::system_clock::now();
  d->submit(std::move(batch));
  REQUIRE(rx.wait([](const auto& r) { return r.size() == 50; }, 10s));
  std::set<std::string> ids;
  const auto got = rx.received();
  for (int i = 0; i < 50; ++i) {
    CHECK(got[i].method == "GET");
    CHECK(got[i].target == "/hook?n=" + std::to_string(i));
    CHECK(got[i].headers.at("user-agent") == "folderhook-test/1");
    const auto ts = std::stoll(got[i].headers.at("webhook-timestamp"));
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                           before.time_since_epoch()).count();
    CHECK(ts >= now_s - 1);
    CHECK(ts <= now_s + 10);
    CHECK(got[i].headers.count("webhook-signature") == 0);
    ids.insert(got[i].headers.at("webhook-id"));
  }
  CHECK(ids.size() == 50);
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "delivered") == 50; }, 5s));
  const auto first = with_outcome(log.lines(), "delivered").front();
  CHECK(ids.count(first["id"].get<std::string>()) == 1);
  CHECK(first["level"] == "info");
  CHECK(first["action"] == "create");
  CHECK(first["path"] == "/demo/a.txt");
  CHECK(first["url"] == rx.url());
  CHECK(first["attempt"] == 1);
  CHECK(first["status"] == 200);
  CHECK(first["error"] == "");
  CHECK(first["ms"].is_number());
  d->shutdown();
}

TEST_CASE("a signed POST carries the Standard Webhooks signature of its body") {
  TempDir dir;
  Receiver rx;
  LogCollector log;
  auto d = start_dispatcher(test_options(dir.path()), log);
  Request r = make({rx.url("/post")}, "");
  r.method = "POST";
  r.body = R"({"test": 2432232314})";
  r.content_type = "application/json";
  r.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  r.id = "msg_p5jXN8AQM9LWM0D4loKWxJek";  // a preset id is kept
  d->submit({r});
  REQUIRE(rx.wait([](const auto& v) { return v.size() == 1; }, 5s));
  const auto got = rx.received()[0];
  CHECK(got.method == "POST");
  CHECK(got.body == r.body);
  CHECK(got.headers.at("content-type") == "application/json");
  CHECK(got.headers.at("webhook-id") == r.id);
  // Recompute with the received timestamp: the known vector is for 1614265330.
  std::string why;
  const auto expected = webhook_headers(r, "x", std::stoll(got.headers.at("webhook-timestamp")), why);
  REQUIRE(expected);
  CHECK(got.headers.at("webhook-signature") == expected->back().second);
  d->shutdown();
}

TEST_CASE("success policy: any 2xx by default, exactly 200 on demand; 3xx is a failure") {
  TempDir dir;
  Receiver no_content([](const Webhook&, int) { return Reply{204}; });
  Receiver redirect([](const Webhook&, int) {
    return Reply{302, "", {{"Location", "http://127.0.0.1:1/elsewhere"}}};
  });
  LogCollector log;
  auto options = test_options(dir.path());
  options.retry = {10'000ms};
  std::string error;
  {
    auto d = open_dispatcher(options, log.logger(), error);
    REQUIRE(d);
    d->submit({make({no_content.url()}, "a=1")});
    d->submit({make({redirect.url()}, "a=2")});
    REQUIRE(log.wait([](const auto& l) { return l.size() >= 2; }, 5s));
    d->shutdown();
  }
  auto lines = log.attempts();
  for (const auto& l : lines) {
    INFO(l.dump());
    if (l["url"] == no_content.url()) {
      CHECK(l["outcome"] == "delivered");
      CHECK(l["status"] == 204);
    } else {
      CHECK(l["outcome"] == "retry");
      CHECK(l["status"] == 302);
      CHECK(l["error"].get<std::string>().find("redirects are not followed") != std::string::npos);
      CHECK(l["level"] == "warn");
      CHECK(l["next_at"].get<std::string>().size() == 24);
    }
  }
  CHECK(redirect.count() == 1);  // the Location was not followed... and not retried yet

  TempDir dir2;
  LogCollector log2;
  auto strict = test_options(dir2.path());
  strict.success = SuccessPolicy::kExactly200;
  strict.retry = {10'000ms};
  auto d = open_dispatcher(strict, log2.logger(), error);
  REQUIRE(d);
  d->submit({make({no_content.url()}, "a=3")});
  REQUIRE(log2.wait([](const auto& l) { return count_outcome(l, "retry") == 1; }, 5s));
  CHECK(with_outcome(log2.lines(), "retry")[0]["error"].get<std::string>().find("exactly 200") !=
        std::string::npos);
  d->shutdown();
}

TEST_CASE("primary down and backup up: one success, from the backup") {
  TempDir dir;
  Receiver backup;
  LogCollector log;
  const std::string primary = "http://127.0.0.1:" + std::to_string(unused_port()) + "/hook";
  auto d = start_dispatcher(test_options(dir.path()), log);
  d->submit({make({primary, backup.url()}, "action=create")});
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "delivered") == 1; }, 5s));
  d->shutdown();
  CHECK(backup.count() == 1);
  const auto lines = log.attempts();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["url"] == backup.url());
  CHECK(lines[0]["attempt"] == 1);
  CHECK(lines[0]["status"] == 200);
}

TEST_CASE("all URLs down, then the primary recovers: delivered at the next retry, same id") {
  TempDir dir;
  Receiver primary([](const Webhook&, int index) { return Reply{index == 0 ? 503 : 200}; });
  Receiver backup([](const Webhook&, int) { return Reply{500, "backup broken"}; });
  LogCollector log;
  std::string error;
  auto d = open_dispatcher(test_options(dir.path()), log.logger(), error);
  REQUIRE(d);
  d->submit({make({primary.url(), backup.url()}, "x=1")});
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "delivered") == 1; }, 5s));
  d->shutdown();
  const auto lines = log.attempts();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["outcome"] == "retry");
  CHECK(lines[0]["status"] == 500);  // the last URL tried
  const auto err = lines[0]["error"].get<std::string>();
  CHECK(err.find(primary.url() + ": HTTP 503") != std::string::npos);
  CHECK(err.find(backup.url() + ": HTTP 500") != std::string::npos);
  CHECK(lines[1]["attempt"] == 2);
  CHECK(lines[1]["url"] == primary.url());
  CHECK(backup.count() == 1);
  const auto p = primary.received();
  REQUIRE(p.size() == 2);
  CHECK(p[0].headers.at("webhook-id") == p[1].headers.at("webhook-id"));
  CHECK(p[0].headers.at("webhook-id") == backup.received()[0].headers.at("webhook-id"));
  // The retry waited 200ms +-20% (and a little scheduling).
  CHECK(p[1].at - p[0].at >= 150ms);
}

TEST_CASE("429 with Retry-After is honoured") {
  TempDir dir;
  Receiver rx([](const Webhook&, int index) {
    return index == 0 ? Reply{429, "slow down", {{"Retry-After", "1"}}} : Reply{200};
  });
  LogCollector log;
  auto d = start_dispatcher(test_options(dir.path()), log);
  d->submit({make({rx.url()}, "r=1")});
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "delivered") == 1; }, 5s));
  d->shutdown();
  const auto got = rx.received();
  CHECK(got[1].at - got[0].at >= 950ms);  // not the 200ms of the schedule
  CHECK(got[1].at - got[0].at < 3s);
  const auto lines = log.attempts();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["status"] == 429);
  CHECK(lines[1]["outcome"] == "delivered");
}

TEST_CASE("a hanging receiver times out and never delays another URL set") {
  TempDir dir;
  Receiver hanging([](const Webhook&, int) { return Reply::hanging(); });
  Receiver healthy;
  LogCollector log;
  auto d = open_first_attempts_only(dir, log, 500ms);
  std::vector<Request> batch;
  for (int i = 0; i < 8; ++i) batch.push_back(make({hanging.url()}, "h=" + std::to_string(i)));
  d->submit(std::move(batch));
  REQUIRE(hanging.wait([](const auto& v) { return !v.empty(); }, 5s));
  const auto start = std::chrono::steady_clock::now();
  batch.clear();
  for (int i = 0; i < 20; ++i) batch.push_back(make({healthy.url()}, "ok=" + std::to_string(i)));
  d->submit(std::move(batch));
  REQUIRE(healthy.wait([](const auto& v) { return v.size() == 20; }, 5s));
  // Every healthy delivery arrived before the first hanging attempt could even time out.
  CHECK(std::chrono::steady_clock::now() - start < 500ms);
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "retry") >= 4; }, 5s));
  const auto retry = with_outcome(log.lines(), "retry")[0];
  CHECK(retry["status"] == 0);
  CHECK(retry["error"].get<std::string>().find("no response within 500 ms") != std::string::npos);
  d->shutdown();
}

TEST_CASE("bad receivers are failed attempts with a clear error") {
  TempDir dir;
  Receiver huge([](const Webhook&, int) { return Reply{200, std::string(1 << 20, 'x')}; });
  Receiver endless([](const Webhook&, int) { return Reply::endless(); });
  LogCollector log;
  auto d = open_first_attempts_only(dir, log, 300ms);
  const std::string plain_as_tls = "https://127.0.0.1:" + std::to_string(huge.port()) + "/";
  d->submit({make({huge.url()}, "q=huge"), make({endless.url()}, "q=endless"),
             make({"http://no-such-host.invalid/hook"}, "q=dns"), make({plain_as_tls}, "q=tls")});
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "retry") == 4; }, 10s));
  d->shutdown();
  std::map<std::string, std::string> errors;
  for (const auto& l : log.attempts()) errors[l["url"]] = l["error"];
  CHECK(errors[huge.url()].find("larger than 64 KiB") != std::string::npos);
  CHECK(errors[endless.url()].find("not complete within 600 ms") != std::string::npos);
  CHECK(errors["http://no-such-host.invalid/hook"].find("DNS lookup of 'no-such-host.invalid'") !=
        std::string::npos);
  CHECK(errors[plain_as_tls].find("TLS") != std::string::npos);
}

TEST_CASE("a second dispatcher on the same state_dir is refused with a clear error") {
  TempDir dir;
  LogCollector log;
  std::string error;
  auto first = open_dispatcher(test_options(dir.path()), log.logger(), error);
  REQUIRE(first);
  auto second = open_dispatcher(test_options(dir.path()), log.logger(), error);
  CHECK_FALSE(second);
  CHECK(error.find("in use by another folderhook agent") != std::string::npos);
  first->shutdown();
  first.reset();
  auto third = open_dispatcher(test_options(dir.path()), log.logger(), error);
  CHECK(third);
}

TEST_CASE("a burst of 2,000 to a local receiver is delivered, each id once") {
  TempDir dir;
  Receiver rx;
  LogCollector log;
  auto d = start_dispatcher(test_options(dir.path()), log);
  constexpr int kCount = 2000;
  const auto start = std::chrono::steady_clock::now();
  std::vector<Request> batch;
  for (int i = 0; i < kCount; ++i) batch.push_back(make({rx.url()}, "n=" + std::to_string(i)));
  d->submit(std::move(batch));
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "delivered") == kCount; }, 30s));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE(kCount << " delivered in " << static_cast<int>(secs * 1000) << " ms: "
                 << static_cast<int>(kCount / secs) << " deliveries/s (4 connections, this build)");
  d->shutdown();
  std::set<std::string> ids;
  for (const auto& r : rx.received()) ids.insert(r.headers.at("webhook-id"));
  CHECK(ids.size() == kCount);
  CHECK(rx.count() == kCount);
}
