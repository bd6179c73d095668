// Steps the ActionBuilder tests share (on builder_harness.h's Harness): a run of records for
// entries of one watched directory, a new file held open by its writer or written whole, and
// "nothing more comes out once the windows pass".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "tests/watch/builder_harness.h"

namespace folderhook::watch::testing {

struct Rec {
  uint32_t mask;
  std::string name;
};

// Writes these files (path, content) into the fake tree, then starts the builder on it.
inline void start_with(Harness& h,
                       std::initializer_list<std::pair<std::string, std::string>> files) {
  for (const auto& [path, content] : files) h.fs.write(path, content);
  h.start();
}

// Feeds these records for entries of the watched directory `dir`, in order, at the same time.
inline void records(Harness& h, const std::string& dir, std::initializer_list<Rec> list) {
  for (const Rec& r : list) h.record(dir, r.mask, r.name);
}

// A writer created `name` in the watched directory `dir` and holds it open: its content is
// already `content` in the fake tree, its CREATE and OPEN fed; its close is up to the test.
inline void new_file_opened(Harness& h, const std::string& dir, const std::string& name,
                            const std::string& content) {
  h.fs.write(dir + "/" + name, content);
  h.record(dir, IN_CREATE, name);
  h.record(dir, IN_OPEN, name);
}

// Each of `names` in `dir` opened and closed without a write (a read: the builder's own, when
// it hashed them).
inline void opened_and_read(Harness& h, const std::string& dir,
                            std::initializer_list<std::string> names) {
  for (const std::string& name : names) {
    h.record(dir, IN_OPEN, name);
    h.record(dir, IN_CLOSE_NOWRITE, name);
  }
}

// A writer created `name` in `dir`, wrote `content` and closed it: CREATE, OPEN, CLOSE_WRITE.
inline void new_file_written(Harness& h, const std::string& dir, const std::string& name,
                             const std::string& content) {
  new_file_opened(h, dir, name, content);
  h.record(dir, IN_CLOSE_WRITE, name);
}

// Moves the fake clock `ms` on; true when the builder let nothing more out.
inline bool quiet_after(Harness& h, int ms) {
  h.advance(ms);
  return h.actions().empty();
}

}  // namespace folderhook::watch::testing
