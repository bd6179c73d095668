// Harness: an ActionBuilder on a FakeFileSystem with a fake clock. Records are fed by
// directory path (the harness looks up the wd), time moves only when a test says so, and
// actions come back as one line each: "create file /r/a", "move directory /r/d -> /r/e".
// Records are written as inotify masks, in both scopes, and reach the builder through the
// inotify backend's translation (inotify_record_of).
#pragma once

#include <sys/inotify.h>

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/watch/fake_file_system.h"
#include "tests/watch/lines.h"
#include "watch/action_builder.h"
#include "watch/inotify_record.h"

namespace folderhook::watch::testing {

inline std::string describe(const FileAction& action) {
  std::string out = std::string(to_string(action.action)) + " " +
                    std::string(to_string(action.type)) + " " + action.path;
  if (!action.destination.empty()) out += " -> " + action.destination;
  return out;
}

struct LogLine {
  std::string level;
  std::string message;
  nlohmann::json fields;
};

class Harness {
 public:
  explicit Harness(WatchOptions options = default_options(),
                   ActionBuilder::Scope scope = ActionBuilder::Scope::kPerDirectory)
      : options_(std::move(options)), scope_(scope) {
    for (const RootOptions& root : options_.roots) {
      if (!fs.exists(root.path) && create_roots) fs.mkdir(root.path);
    }
  }

  static WatchOptions default_options() {
    WatchOptions options;
    options.roots.push_back({"/r", {"*.part", "*.filepart", "*.tmp", ".*.??????"}});
    options.settle = std::chrono::milliseconds(200);
    options.move_pairing = std::chrono::milliseconds(250);
    return options;
  }

  // Builds the ActionBuilder on the tree as it is now (the tree present at start).
  void start() {
    builder_ = std::make_unique<ActionBuilder>(
        options_, fs, [this](std::string_view level, std::string_view msg, const nlohmann::json& f) {
          logs.push_back({std::string(level), std::string(msg), f});
        }, scope_);
    builder_->start(now());
  }

  // kWholeFilesystem: one event by path, with its actor.
  void path_record(const std::string& dir, uint32_t mask, const std::string& name,
                   Actor actor = {}, uint32_t cookie = 0) {
    Record record = inotify_record_of(RawRecord{-1, mask, cookie, name});
    record.dir = dir;
    record.actor = std::move(actor);
    builder_->feed(record, now());
  }

  // Feeds one record for the entry `name` of the watched directory `dir`.
  void record(const std::string& dir, uint32_t mask, const std::string& name = "",
              uint32_t cookie = 0) {
    const auto wd = builder_->table().wd_of(dir);
    REQUIRE_MESSAGE(wd.has_value(), "no watch on " << dir);
    builder_->feed(inotify_record_of(RawRecord{*wd, mask, cookie, name}), now());
  }
  void raw(int wd, uint32_t mask, const std::string& name = "", uint32_t cookie = 0) {
    builder_->feed(inotify_record_of(RawRecord{wd, mask, cookie, name}), now());
  }
  // Moves the fake clock and runs every window that ended.
  void advance(int ms) {
    clock_ += std::chrono::milliseconds(ms);
    builder_->tick(now());
  }
  // Everything the builder let out since the last call.
  std::vector<std::string> actions() {
    std::vector<std::string> out;
    for (const FileAction& action : builder_->take_actions()) {
      out.push_back(describe(action));
      last_.push_back(action);
    }
    return out;
  }
  const std::vector<FileAction>& taken() const { return last_; }
  ActionBuilder& builder() { return *builder_; }
  Timestamp now() const {
    return Timestamp{std::chrono::steady_clock::time_point(clock_),
                     std::chrono::system_clock::time_point(clock_)};
  }

  FakeFileSystem fs;
  std::vector<LogLine> logs;
  bool create_roots = true;

 private:
  WatchOptions options_;
  ActionBuilder::Scope scope_;
  std::unique_ptr<ActionBuilder> builder_;
  std::chrono::milliseconds clock_{1'000'000};
  std::vector<FileAction> last_;
};

using Lines = std::vector<std::string>;

}  // namespace folderhook::watch::testing
