// One attempt (delivery/attempt.h): the primary URL, then each redundant URL until one
// accepts, through the real sinks (SinkSet) to real receivers on 127.0.0.1.
#include <doctest/doctest.h>

#include "delivery/attempt.h"
#include "delivery/sink_set.h"
#include "tests/delivery/harness.h"

using namespace folderhook::delivery;
using namespace folderhook::delivery::test;

namespace {

Request to_urls(std::vector<std::string> urls, const std::string& query = "n=0") {
  Request r;
  r.id = new_request_id();
  r.urls = std::move(urls);
  r.query = query;
  return r;
}

SinkSet test_sinks() {
  SinkOptions options;
  options.timeout = std::chrono::seconds(2);
  options.user_agent = "folderhook-test/1";
  return SinkSet(options);
}

}  // namespace

TEST_CASE("attempt: the primary refuses, the redundant URL accepts: delivered, both URLs recorded") {
  Receiver primary([](const Webhook&, int) { return Reply{500, "down"}; });
  Receiver backup;
  SinkSet sinks = test_sinks();
  const AttemptResult result = run_attempt(to_urls({primary.url(), backup.url()}), sinks);
  CHECK(result.delivered);
  CHECK_FALSE(result.rejected);
  CHECK(result.error.empty());
  CHECK(result.url == backup.url());
  CHECK(result.status == 200);
  REQUIRE(result.urls.size() == 2);
  CHECK(result.urls[0].status == 500);
  CHECK_FALSE(result.urls[0].error.empty());
  CHECK(result.urls[1].error.empty());
  CHECK(primary.count() == 1);
  CHECK(backup.count() == 1);
}

TEST_CASE("attempt: the primary accepts: the redundant URL is never tried") {
  Receiver primary;
  Receiver backup;
  SinkSet sinks = test_sinks();
  const AttemptResult result = run_attempt(to_urls({primary.url(), backup.url()}), sinks);
  CHECK(result.delivered);
  CHECK(result.urls.size() == 1);
  CHECK(backup.count() == 0);
}

TEST_CASE("attempt: every URL refuses: each URL's error, and the longest Retry-After asked") {
  Receiver first([](const Webhook&, int) { return Reply{503, "", {{"Retry-After", "3"}}}; });
  Receiver second([](const Webhook&, int) { return Reply{429, "", {{"Retry-After", "1"}}}; });
  SinkSet sinks = test_sinks();
  const AttemptResult result = run_attempt(to_urls({first.url(), second.url()}), sinks);
  CHECK_FALSE(result.delivered);
  CHECK_FALSE(result.rejected);  // failures, not refusals for good: the schedule may help
  CHECK(result.status == 429);   // the last URL tried
  CHECK(result.url == second.url());
  REQUIRE(result.retry_after.has_value());
  CHECK(*result.retry_after == std::chrono::seconds(3));
  // Two URLs: each error names its URL, "; "-separated.
  CHECK(result.error.find(first.url() + ": ") == 0);
  CHECK(result.error.find("; " + second.url() + ": ") != std::string::npos);
}

TEST_CASE("attempt: a URL no sink serves is rejected for good, and no URL at all says so") {
  SinkSet sinks = test_sinks();
  const AttemptResult unserved = run_attempt(to_urls({"gopher://127.0.0.1/x"}), sinks);
  CHECK_FALSE(unserved.delivered);
  CHECK(unserved.rejected);
  CHECK(unserved.error.find("invalid URL") == 0);

  const AttemptResult none = run_attempt(to_urls({}), sinks);
  CHECK_FALSE(none.delivered);
  CHECK_FALSE(none.rejected);
  CHECK(none.error == "no URL to send to");
  CHECK(none.urls.empty());
}

TEST_CASE("attempts: a batch goes to its first URL together, only the refused on to the next") {
  Receiver primary([](const Webhook& got, int) { return Reply{got.raw_query == "n=1" ? 500 : 200}; });
  Receiver backup;
  std::vector<Request> requests;
  for (int i = 0; i < 3; ++i) {
    requests.push_back(to_urls({primary.url(), backup.url()}, "n=" + std::to_string(i)));
  }
  SinkSet sinks = test_sinks();
  const auto results = run_attempts({&requests[0], &requests[1], &requests[2]}, sinks);
  REQUIRE(results.size() == 3);
  const std::vector<size_t> urls_tried{results[0].urls.size(), results[1].urls.size(),
                                       results[2].urls.size()};
  CHECK(urls_tried == std::vector<size_t>{1, 2, 1});
  for (const AttemptResult& r : results) CHECK(r.delivered);
  REQUIRE(backup.count() == 1);
  CHECK(backup.received()[0].raw_query == "n=1");
  // In order on the primary, each with its own webhook-id.
  const auto got = primary.received();
  REQUIRE(got.size() == 3);
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].raw_query == "n=" + std::to_string(i));
    CHECK(got[i].header("webhook-id") == requests[i].id);
  }
}
