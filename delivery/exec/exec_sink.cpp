#include "delivery/exec/exec_sink.h"

#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <utility>

#include "delivery/exec/exec_url.h"
#include "delivery/exec/program_run.h"
#include "delivery/payload.h"

namespace folderhook::delivery {
namespace {

using ExecClock = std::chrono::steady_clock;

SinkResult exec_result(SinkResult::Verdict verdict, std::string error, std::string body = "") {
  SinkResult r;
  r.verdict = verdict;
  r.error = std::move(error);
  r.body = std::move(body);
  return r;
}

// The programs running for one folder and URL, over every sink of the process.
struct Slots {
  std::mutex mu;
  std::condition_variable freed;
  int running = 0;
};

// Folder and URL -> their slots, while some sink uses them.
class SlotRegistry {
 public:
  static SlotRegistry& instance() {
    static SlotRegistry registry;
    return registry;
  }
  std::shared_ptr<Slots> get(const std::string& key) {
    std::lock_guard lock(mu_);
    for (auto it = slots_.begin(); it != slots_.end();) {
      it = it->second.expired() ? slots_.erase(it) : std::next(it);
    }
    auto& weak = slots_[key];
    auto slots = weak.lock();
    if (!slots) {
      slots = std::make_shared<Slots>();
      weak = slots;
    }
    return slots;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<Slots>> slots_;
};

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal " + std::to_string(sig);
}

// The failed attempt's error for a run that did not exit with status 0.
std::string run_error(const ProgramRun& run, std::chrono::milliseconds timeout) {
  std::string e;
  switch (run.end) {
    case ProgramRun::End::kExited:
      e = "exit status " + std::to_string(run.code);
      break;
    case ProgramRun::End::kSignaled:
      e = "killed by " + signal_name(run.code) + " (" + std::to_string(run.code) + ")";
      break;
    case ProgramRun::End::kTimedOut:
      e = "still running after " + std::to_string(timeout.count()) +
          " ms: killed with its process group";
      break;
    case ProgramRun::End::kAborted:
      return std::string(kAborted);
    case ProgramRun::End::kCannotRun:
      return run.error;
  }
  const std::string err = exec_stderr_line(run.stderr_head);
  return err.empty() ? e : e + ": " + err;
}

class ExecSink final : public Sink {
 public:
  explicit ExecSink(const SinkOptions& options)
      : options_(options), abort_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~ExecSink() override {
    if (abort_fd_ >= 0) ::close(abort_fd_);
  }

  std::vector<SinkResult> deliver(const std::vector<const Request*>& requests,
                                  const std::string& url) override {
    std::vector<SinkResult> results(requests.size());
    std::string error;
    const auto program = parse_exec_url(url, error);
    if (!program) {
      for (auto& r : results) {
        r = exec_result(SinkResult::Verdict::kRejected, "invalid exec: URL: " + error);
      }
      return results;
    }
    const auto start_by = ExecClock::now() + options_.timeout;
    for (size_t i = 0; i < requests.size(); ++i) {
      if (i > 0 && ExecClock::now() >= start_by) {
        // Bounds the call (sink.h): the rest go to the retry schedule, not run late.
        results[i] = exec_result(SinkResult::Verdict::kFailed,
                                 "not started: the programs before it in its batch ran for " +
                                     std::to_string(options_.timeout.count()) + " ms");
        continue;
      }
      results[i] = run_one(*requests[i], url, *program, start_by);
    }
    return results;
  }

  void abort() override {
    std::shared_ptr<Slots> waiting;
    {
      std::lock_guard lock(mu_);
      aborted_ = true;
      waiting = waiting_on_;
    }
    if (abort_fd_ >= 0) {
      const uint64_t one = 1;
      (void)!::write(abort_fd_, &one, sizeof one);  // stays readable: every later run stops
    }
    if (waiting) {
      std::lock_guard lock(waiting->mu);
      waiting->freed.notify_all();
    }
  }

 private:
  bool aborted() {
    std::lock_guard lock(mu_);
    return aborted_;
  }

  // Takes a slot of `slots`, waiting until `start_by`; false when none came free or aborted.
  bool take_slot(const std::shared_ptr<Slots>& slots, ExecClock::time_point start_by) {
    {
      std::lock_guard lock(mu_);
      if (aborted_) return false;
      waiting_on_ = slots;
    }
    const int limit = std::max(1, options_.connections);
    bool taken = false;
    {
      std::unique_lock lock(slots->mu);
      slots->freed.wait_until(lock, start_by, [&] { return aborted() || slots->running < limit; });
      if (!aborted() && slots->running < limit) {
        ++slots->running;
        taken = true;
      }
    }
    std::lock_guard lock(mu_);
    waiting_on_.reset();
    return taken;
  }

  SinkResult run_one(const Request& request, const std::string& url, const std::string& program,
                     ExecClock::time_point start_by) {
    using Verdict = SinkResult::Verdict;
    if (request.fields.empty()) {
      return exec_result(Verdict::kRejected,
                         "the stored delivery has no fields (written by a version before exec: "
                         "support): replay it to run the program");
    }
    const auto slots = SlotRegistry::instance().get(request.rule + "\n" + url);
    if (!take_slot(slots, start_by)) {
      if (aborted()) return exec_result(Verdict::kFailed, std::string(kAborted));
      return exec_result(Verdict::kFailed,
                         "not started: " + std::to_string(std::max(1, options_.connections)) +
                             " programs of this folder were still running after " +
                             std::to_string(options_.timeout.count()) +
                             " ms ([delivery] connections)");
    }
    const std::string input = fields_json(request.fields).dump() + "\n";
    const ProgramRun run =
        run_program(program, exec_environment(request), input, options_.timeout, abort_fd_);
    {
      std::lock_guard lock(slots->mu);
      --slots->running;
      // All: a woken waiter that was aborted meanwhile would not pass the slot on.
      slots->freed.notify_all();
    }
    if (run.end == ProgramRun::End::kExited && run.code == 0) {
      return exec_result(Verdict::kAccepted, "");
    }
    return exec_result(Verdict::kFailed, run_error(run, options_.timeout), run.stderr_head);
  }

  SinkOptions options_;
  int abort_fd_;
  std::mutex mu_;
  bool aborted_ = false;               // guarded by mu_
  std::shared_ptr<Slots> waiting_on_;  // guarded by mu_: the slots take_slot() waits on
};

}  // namespace

std::unique_ptr<Sink> make_exec_sink(const SinkOptions& options) {
  return std::make_unique<ExecSink>(options);
}

}  // namespace folderhook::delivery
