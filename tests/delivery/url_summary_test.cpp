// summarize_url_outcomes: the url_stats row a commit's attempts leave, one per URL.
#include <doctest/doctest.h>

#include "delivery/outbox.h"

using namespace folderhook::delivery;

TEST_CASE("a URL's attempts in one commit reduce to its last outcome and failure count") {
  const std::vector<UrlOutcome> outcomes = {
      {"http://a/", 500, "HTTP 500", false, 1}, {"http://b/", 0, "refused", false, 2},
      {"http://a/", 200, "", true, 3},          {"http://a/", 503, "HTTP 503", false, 4},
      {"http://b/", 0, "refused", false, 5},    {"http://a/", 502, "HTTP 502", false, 6},
  };
  const auto s = summarize_url_outcomes(outcomes);
  REQUIRE(s.size() == 2);
  const UrlSummary& a = s.at("http://a/");
  CHECK(a.last->status == 502);
  CHECK(a.last->at_ms == 6);
  CHECK(a.succeeded);
  CHECK(a.last_success_ms == 3);
  CHECK(a.failures_since_success == 2);  // the stored count restarts from the success
  const UrlSummary& b = s.at("http://b/");
  CHECK_FALSE(b.succeeded);
  CHECK(b.failures_since_success == 2);  // added to the stored count
  CHECK(b.last->at_ms == 5);
}
