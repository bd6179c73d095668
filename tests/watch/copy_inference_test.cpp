// CopyInference without a kernel or a FileSystem: given which files were read and closed when,
// what is open, the markers read, and the files' sizes and hashes, is a new file a copy, and of
// which file; which OPEN and CLOSE_NOWRITE records are our own reads.
#include "watch/copy_inference.h"

#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace folderhook::watch {
namespace {

using namespace std::chrono_literals;
using SteadyTime = CopyInference::SteadyTime;

const SteadyTime kT0{};

// Files as the probe sees them: a size when it may be a source, a hash when it can be read.
struct TableProbe : CopyInference::Probe {
  std::map<std::string, uint64_t> sizes;
  std::map<std::string, uint64_t> hashes;
  std::vector<std::string> hashed;  // in the order they were read
  uint64_t markers = 0;

  std::optional<uint64_t> source_size(const std::string& path) override {
    const auto it = sizes.find(path);
    return it == sizes.end() ? std::nullopt : std::optional(it->second);
  }
  uint64_t put_marker() override { return ++markers; }
  std::optional<uint64_t> hash(const std::string& path) override {
    hashed.push_back(path);
    const auto it = hashes.find(path);
    return it == hashes.end() ? std::nullopt : std::optional(it->second);
  }
};

// One row: what happened around the new file "/w/b" (10 bytes, hash 7, written from record 5 on).
struct Row {
  const char* says;
  std::vector<std::pair<std::string, uint64_t>> closes;  // a reader's CLOSE_NOWRITE: path, seq
  CopyInference::OpenCounts open;
  std::map<std::string, uint64_t> sizes;
  std::map<std::string, uint64_t> hashes;
  std::optional<std::string> source;
};

// The common copy: `dir`/b (10 bytes, written from record 5 on) has the bytes (hash 7) of
// `dir`/a (10 bytes), which another process read and closed at record 6, during the write.
struct ReadDuringWrite {
  explicit ReadDuringWrite(bool inotify, const std::string& dir = "/w")
      : copies(inotify, 5s), source(dir + "/a"), copy(dir + "/b") {
    copies.read_closed(source, 6, kT0, 0);
    probe.sizes = {{source, 10}};
    probe.hashes = {{source, 7}, {copy, 7}};
  }
  std::optional<std::string> find_source(SteadyTime now = kT0) {
    return copies.find_source({copy, 10, 5, 0}, {}, probe, now);
  }

  CopyInference copies;
  TableProbe probe;
  std::string source;
  std::string copy;
};

}  // namespace

TEST_CASE(
    "copy inference: a new file is the copy of a file read meanwhile with its size and bytes") {
  // clang-format off
  const std::vector<Row> rows = {
      {"read during the write, same size and bytes", {{"/w/a", 6}}, {},
       {{"/w/a", 10}}, {{"/w/a", 7}, {"/w/b", 7}}, "/w/a"},
      {"still open for reading, same size and bytes", {}, {{"/w/a", 1}},
       {{"/w/a", 10}}, {{"/w/a", 7}, {"/w/b", 7}}, "/w/a"},
      {"same size, other bytes", {{"/w/a", 6}}, {},
       {{"/w/a", 10}}, {{"/w/a", 8}, {"/w/b", 7}}, std::nullopt},
      {"other size", {{"/w/a", 6}}, {},
       {{"/w/a", 11}}, {{"/w/a", 7}, {"/w/b", 7}}, std::nullopt},
      {"read and closed before the write began", {{"/w/a", 5}}, {},
       {{"/w/a", 10}}, {{"/w/a", 7}, {"/w/b", 7}}, std::nullopt},
      {"no longer a possible source (gone, or a new file itself)", {{"/w/a", 6}}, {},
       {}, {{"/w/a", 7}, {"/w/b", 7}}, std::nullopt},
      {"the copy cannot be read", {{"/w/a", 6}}, {},
       {{"/w/a", 10}}, {{"/w/a", 7}}, std::nullopt},
      {"two candidates: the one with the bytes", {{"/w/a", 6}, {"/w/c", 7}}, {},
       {{"/w/a", 10}, {"/w/c", 10}}, {{"/w/a", 1}, {"/w/c", 7}, {"/w/b", 7}}, "/w/c"},
      {"a closed count is no open file", {}, {{"/w/a", 0}},
       {{"/w/a", 10}}, {{"/w/a", 7}, {"/w/b", 7}}, std::nullopt},
  };
  // clang-format on
  for (const Row& row : rows) {
    CAPTURE(row.says);
    CopyInference copies(true, 5s);
    for (const auto& [path, seq] : row.closes) copies.read_closed(path, seq, kT0, 0);
    TableProbe probe;
    probe.sizes = row.sizes;
    probe.hashes = row.hashes;
    const CopyInference::Copy copy{"/w/b", 10, 5, 0};
    CHECK(copies.find_source(copy, row.open, probe, kT0) == row.source);
  }
}

TEST_CASE("copy inference: the files the writer's process read come first, latest first") {
  CopyInference copies(false, 5s);
  copies.read_closed("/w/old", 1, kT0, 42);  // before the write, but by the writer
  copies.read_closed("/w/z", 6, kT0, 9);     // during the write, by another process
  copies.read_closed("/w/later", 2, kT0, 42);
  const CopyInference::OpenCounts open = {{"/w/m", 1}, {"/w/b", 1}};
  const CopyInference::Copy copy{"/w/b", 10, 5, 42};
  CHECK(copies.candidates(copy, open) ==
        std::vector<std::string>{"/w/later", "/w/old", "/w/m", "/w/z"});
  // Without a process to go by, only what overlapped the write, in path order.
  const CopyInference::Copy anonymous{"/w/b", 10, 5, 0};
  CHECK(copies.candidates(anonymous, open) == std::vector<std::string>{"/w/m", "/w/z"});
}

TEST_CASE("copy inference: a size that differs is never hashed, and the copy is hashed once") {
  CopyInference copies(true, 5s);
  copies.read_closed("/w/a", 6, kT0, 0);
  copies.read_closed("/w/c", 7, kT0, 0);
  copies.read_closed("/w/d", 8, kT0, 0);
  TableProbe probe;
  probe.sizes = {{"/w/a", 3}, {"/w/c", 10}, {"/w/d", 10}};
  probe.hashes = {{"/w/b", 7}, {"/w/c", 1}, {"/w/d", 7}};
  CHECK(copies.find_source({"/w/b", 10, 5, 0}, {}, probe, kT0) == "/w/d");
  CHECK(probe.hashed == std::vector<std::string>{"/w/b", "/w/c", "/w/d"});
}

TEST_CASE("copy inference: on inotify our hashing reads come back as one OPEN and one close each") {
  ReadDuringWrite write(true);
  auto& copies = write.copies;
  REQUIRE(write.find_source() == "/w/a");
  CHECK(write.probe.markers == 2);  // one before each read
  // Both reads were queued after their markers; until marker 1 is read, records are a reader's.
  CHECK_FALSE(copies.own_open("/w/b"));
  copies.marker_read(1);
  CHECK(copies.own_open("/w/b"));
  CHECK(copies.own_close("/w/b"));
  CHECK_FALSE(copies.own_open("/w/b"));  // a second OPEN is someone else's
  CHECK_FALSE(copies.own_open("/w/a"));  // its read comes after marker 2
  copies.marker_read(2);
  CHECK(copies.own_open("/w/a"));
  CHECK(copies.own_close("/w/a"));
  CHECK_FALSE(copies.own_close("/w/a"));
}

TEST_CASE("copy inference: on fanotify our reads are not reported, and no marker is put") {
  ReadDuringWrite write(false);
  auto& copies = write.copies;
  REQUIRE(write.find_source() == "/w/a");
  CHECK(write.probe.markers == 0);
  CHECK_FALSE(copies.own_open("/w/a"));
  CHECK_FALSE(copies.own_close("/w/b"));
}

TEST_CASE("copy inference: the close of a source still open at the copy is part of the copy") {
  CopyInference copies(false, 5s);
  TableProbe probe;
  probe.sizes = {{"/w/a", 10}};
  probe.hashes = {{"/w/a", 7}, {"/w/b", 7}};
  REQUIRE(copies.find_source({"/w/b", 10, 5, 0}, {{"/w/a", 1}}, probe, kT0) == "/w/a");
  CHECK(copies.read_closed("/w/a", 9, kT0 + 1s, 0));         // the copier's close
  CHECK_FALSE(copies.read_closed("/w/a", 10, kT0 + 2s, 0));  // a read of its own
}

TEST_CASE("copy inference: a file of the copy's size still open may be its source") {
  TableProbe probe;
  probe.sizes = {{"/w/a", 10}, {"/w/c", 4}};
  CHECK(CopyInference::source_still_open("/w/b", 10, {{"/w/a", 1}}, probe));
  CHECK_FALSE(CopyInference::source_still_open("/w/b", 10, {{"/w/c", 1}}, probe));
  CHECK_FALSE(CopyInference::source_still_open("/w/b", 10, {{"/w/a", 0}}, probe));
  CHECK_FALSE(CopyInference::source_still_open("/w/a", 10, {{"/w/a", 1}}, probe));
}

TEST_CASE("copy inference: reads older than the history, and own reads never seen, are forgotten") {
  ReadDuringWrite write(true);
  auto& copies = write.copies;
  copies.trim(kT0 + 5s);  // within the history: kept
  REQUIRE(write.find_source(kT0 + 5s) == "/w/a");
  copies.marker_read(2);
  copies.trim(kT0 + 5s + CopyInference::kSelfReadExpiry + 1ms);
  CHECK_FALSE(copies.own_open("/w/a"));  // our read never came back: an OPEN now is a reader's
  CHECK(copies.candidates({"/w/b", 10, 5, 0}, {}).empty());
}

TEST_CASE("copy inference: what is kept of our reads follows a directory that moves") {
  ReadDuringWrite write(true, "/w/d");
  auto& copies = write.copies;
  REQUIRE(write.find_source() == "/w/d/a");
  copies.marker_read(2);
  copies.rebase("/w/d", "/w/e");
  CHECK_FALSE(copies.own_open("/w/d/a"));
  CHECK(copies.own_open("/w/e/a"));
  copies.forget_if([](const std::string& path) { return path == "/w/e/b"; });
  CHECK_FALSE(copies.own_open("/w/e/b"));
}

TEST_CASE("copy inference: a held read waits for a new file written meanwhile, not forever") {
  using namespace std::chrono_literals;
  constexpr auto kSettle = 200ms;
  const SteadyTime now = kT0 + 1s;
  // The read closed at record 10 (process 42); its window ended at `now`.
  const CopyInference::HeldRead read{10, 42, now};
  const auto write = [](bool is_new, uint64_t first_seq, int pid,
                        std::optional<SteadyTime> deadline) {
    PendingWrite w;
    w.is_new = is_new;
    w.first_seq = first_seq;
    w.actor.pid = pid;
    w.deadline = deadline;
    return w;
  };
  struct Case {
    const char* says;
    std::map<std::string, PendingWrite> writes;
    SteadyTime at;
    std::optional<SteadyTime> waits_until;
  };
  // clang-format off
  const std::vector<Case> cases = {
      {"nothing written meanwhile: named now", {}, now, std::nullopt},
      {"a new file settling, begun before the close: until it is due",
       {{"/w/b", write(true, 5, 7, now + 50ms)}}, now, now + 50ms},
      {"the earliest of two", {{"/w/b", write(true, 5, 7, now + 80ms)},
                               {"/w/c", write(true, 6, 7, now + 30ms)}}, now, now + 30ms},
      {"an update is no copy", {{"/w/b", write(false, 5, 7, now + 50ms)}}, now, std::nullopt},
      {"begun after the close, by another process", {{"/w/b", write(true, 11, 7, now + 50ms)}},
       now, std::nullopt},
      {"begun after the close, by the reader's process", {{"/w/b", write(true, 11, 42, now + 50ms)}},
       now, now + 50ms},
      {"still open, another process: named at its close, not waited for",
       {{"/w/b", write(true, 5, 7, std::nullopt)}}, now, std::nullopt},
      {"still open, the reader's process: a window from now",
       {{"/w/b", write(true, 5, 42, std::nullopt)}}, now, now + kSettle},
      {"due already: not in this tick", {{"/w/b", write(true, 5, 7, now - 5ms)}}, now,
       now + 1ms},
      {"never past 10 windows after its own", {{"/w/b", write(true, 5, 7, now + 5s)}}, now,
       now + 10 * kSettle},
      {"10 windows passed: named now", {{"/w/b", write(true, 5, 7, now + 5s)}},
       now + 10 * kSettle, std::nullopt},
  };
  // clang-format on
  for (const Case& c : cases) {
    CAPTURE(c.says);
    CHECK(CopyInference::read_waits_until(read, c.writes, c.at, kSettle) == c.waits_until);
  }
}

}  // namespace folderhook::watch
