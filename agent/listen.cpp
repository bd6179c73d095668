#include "agent/listen.h"

#include <algorithm>
#include <csignal>
#include <map>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include <pthread.h>
#include <signal.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "agent/log.h"

namespace folderhook::agent {
namespace {

// The order DESIGN.md gives the parameters in; anything else follows, sorted.
constexpr std::string_view kOrder[] = {"action", "interface", "path", "destination",
                                       "at",     "username",  "type"};

}  // namespace

int run_listen(const std::string& host, int port) {
  httplib::Server server;
  std::mutex out;
  auto handler = [&out](const httplib::Request& req, httplib::Response& res) {
    std::string line = req.method + " " + req.path;
    // A JSON body (method = "POST") is shown as its fields, like the query of a GET.
    std::multimap<std::string, std::string> fields = req.params;
    nlohmann::json body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    const bool json_body = body.is_object();
    if (json_body) {
      for (const auto& [name, value] : body.items()) {
        fields.emplace(name, value.is_string() ? value.get<std::string>() : value.dump());
      }
    }
    auto show = [&line](std::string_view name, std::string_view value) {
      line.append(" ").append(name).append("=").append(display_value(value));
    };
    for (std::string_view name : kOrder) {
      auto it = fields.find(std::string(name));
      if (it != fields.end()) show(name, it->second);
    }
    for (const auto& [name, value] : fields) {
      if (std::find(std::begin(kOrder), std::end(kOrder), name) == std::end(kOrder)) {
        show(display_value(name), value);
      }
    }
    for (const char* header : {"webhook-id", "webhook-timestamp", "webhook-signature"}) {
      if (req.has_header(header)) show(header, req.get_header_value(header));
    }
    for (const auto& [name, file] : req.files) {
      show(display_value(name), file.filename.empty() ? file.content
                                                      : file.filename + " (" +
                                                            std::to_string(file.content.size()) +
                                                            " bytes)");
    }
    if (!req.body.empty() && !json_body) show("body", req.body);
    {
      std::lock_guard lock(out);
      std::cout << line << std::endl;
    }
    res.status = 200;
    res.set_content("ok\n", "text/plain");
  };
  server.Get(".*", handler);
  server.Post(".*", handler);

  const int bound = port == 0 ? server.bind_to_any_port(host.c_str())
                              : (server.bind_to_port(host.c_str(), port) ? port : -1);
  if (bound <= 0) {
    std::cerr << "folderhook listen: cannot listen on " << host << ":" << port
              << " (in use, or not an address of this machine)\n";
    return 2;
  }
  // SIGINT/SIGTERM are taken by sigwait() on a thread of their own, so stopping the server
  // never runs inside a signal handler. Blocked before any thread starts, so all inherit it.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::thread stopper([&server, stop_signals] {
    int signum = 0;
    sigwait(&stop_signals, &signum);
    server.stop();
  });
  std::cout << "listening on http://" << host << ":" << bound << "/ (Ctrl-C stops)" << std::endl;
  const bool served = server.listen_after_bind();
  if (!served) {  // stopped by an error rather than a signal: wake the stopper
    pthread_kill(stopper.native_handle(), SIGTERM);
  }
  stopper.join();
  return served ? 0 : 1;
}

}  // namespace folderhook::agent
