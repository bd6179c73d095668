// Dead-letter email: one per rule per interval, retried when the SMTP server is down.
#include "delivery/notifier.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "delivery/dispatcher.h"
#include "harness.h"

using namespace folderhook::delivery;
using namespace folderhook::delivery::test;

namespace {

Request doomed(const std::string& url, const std::string& rule, const std::string& path) {
  Request r;
  r.urls = {url};
  r.action = "destroy";
  r.path = path;
  r.rule = rule;
  return r;
}

size_t count_msg(const std::vector<nlohmann::json>& lines, const std::string& msg) {
  return static_cast<size_t>(std::count_if(lines.begin(), lines.end(),
                                           [&](const auto& l) { return l["msg"] == msg; }));
}

bool has_subject(const std::vector<std::string>& mails, const std::string& subject) {
  return std::any_of(mails.begin(), mails.end(),
                     [&](const auto& m) { return m.find(subject) != std::string::npos; });
}

bool libcurl_mapped() {
  std::ifstream maps("/proc/self/maps");
  std::stringstream text;
  text << maps.rdbuf();
  return text.str().find("/libcurl.so") != std::string::npos;
}

}  // namespace

TEST_CASE("libcurl is loaded when the first email is sent, not before") {
  if (std::getenv("FOLDERHOOK_CURL_CHILD") == nullptr) {
    // In a fresh process: another test of this one may have sent an email already.
    char self[4096] = {};
    REQUIRE(readlink("/proc/self/exe", self, sizeof self - 1) > 0);
    const std::string command = std::string("FOLDERHOOK_CURL_CHILD=1 '") + self +
                                "' -tc='libcurl is loaded*' >/dev/null 2>&1";
    CHECK(std::system(command.c_str()) == 0);
    return;
  }
  CHECK_FALSE(libcurl_mapped());
  NotifyOptions options;
  options.smtp_url = "smtp://127.0.0.1:1";  // refused at once
  options.from = "agent@example.com";
  options.to = {"ops@example.com"};
  const EmailResult result = send_email(options, "Subject: t\r\n\r\nt\r\n", nullptr);
  CHECK_FALSE(result.ok);
  CHECK(result.error.find("127.0.0.1") != std::string::npos);
  CHECK(libcurl_mapped());
}

TEST_CASE("the summary email names the count, URLs, last error and sample paths, masked") {
  DeadSummary s;
  s.rule = "/srv/in";
  s.count = 12;
  s.urls = {"https://u:pw@hooks.example.com/x"};
  s.last_error = "HTTP 503";
  s.last_status = 503;
  s.sample_paths = {"/srv/in/a.txt", std::string("/srv/in/new\nline")};
  s.first_died_ms = 1445412480000;
  s.last_died_ms = 1445412490000;
  NotifyOptions o;
  o.from = "agent@example.com";
  o.to = {"a@example.com", "b@example.com"};
  const std::string m = build_dead_letter_email(s, o, 1445412500000);
  CHECK(m.find("From: agent@example.com\r\n") != std::string::npos);
  CHECK(m.find("To: a@example.com, b@example.com\r\n") != std::string::npos);
  CHECK(m.find("Subject: folderhook: 12 webhook deliveries failed for /srv/in\r\n") !=
        std::string::npos);
  CHECK(m.find("Date: Wed, 21 Oct 2015 07:28:20 +0000\r\n") != std::string::npos);
  CHECK(m.find("https://***@hooks.example.com/x") != std::string::npos);
  CHECK(m.find("pw@") == std::string::npos);
  CHECK(m.find("Last error: HTTP 503") != std::string::npos);
  CHECK(m.find("/srv/in/new\\x0Aline") != std::string::npos);  // a newline cannot break the mail
  CHECK(m.find("... and 10 more") != std::string::npos);
}

TEST_CASE("one email per rule per interval; an email that fails is retried") {
  TempDir dir;
  const int smtp_port = unused_port();
  auto options = test_options(dir.path());
  options.retry = {50ms};
  options.notify.smtp_url = "smtp://127.0.0.1:" + std::to_string(smtp_port);
  options.notify.from = "folderhook@example.com";
  options.notify.to = {"ops@example.com"};
  options.notify.gather = 200ms;
  options.notify.min_interval = 2500ms;
  options.notify.retry_after_failure = 300ms;
  const std::string url = "http://127.0.0.1:" + std::to_string(unused_port()) + "/hook";
  LogCollector log;
  auto d = start_dispatcher(options, log);
  d->submit({doomed(url, "/a", "/a/1"), doomed(url, "/a", "/a/2"), doomed(url, "/b", "/b/1")});
  // No SMTP server yet: the email fails, is logged, and deliveries are not held up.
  REQUIRE(log.wait([](const auto& l) { return count_msg(l, "dead-letter email failed") >= 1; },
                   5s));
  SmtpServer smtp(smtp_port);
  REQUIRE(smtp.started());
  REQUIRE(wait_until([&] { return smtp.messages().size() == 2; }, 10s));
  const auto first_sent = std::chrono::steady_clock::now();
  auto mails = smtp.messages();
  CHECK(has_subject(mails, "Subject: folderhook: 2 webhook deliveries failed for /a"));
  CHECK(has_subject(mails, "Subject: folderhook: 1 webhook delivery failed for /b"));

  d->submit({doomed(url, "/a", "/a/3")});
  REQUIRE(log.wait([](const auto& l) {
    return std::count_if(l.begin(), l.end(), [](const auto& x) { return x.value("outcome", "") == "dead"; }) == 4;
  }, 5s));
  // Within the interval of /a's email nothing more is sent; after it, one more.
  CHECK_FALSE(wait_until([&] { return smtp.messages().size() > 2; }, 1s));
  REQUIRE(wait_until([&] { return smtp.messages().size() == 3; }, 6s));
  CHECK(std::chrono::steady_clock::now() - first_sent >= 2s);
  CHECK(has_subject(smtp.messages(), "Subject: folderhook: 1 webhook delivery failed for /a"));
  d->shutdown();
}
