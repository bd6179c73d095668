// The builder's own hashing reads on the real kernel (inotify): their OPEN and CLOSE_NOWRITE
// come back as records, after everything already queued. A reader's records of the same file
// queued before them must stay the reader's (FileSystem::put_marker).
#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"
#include "watch/action_builder.h"
#include "watch/inotify_record.h"
#include "watch/real_file_system.h"

namespace folderhook::watch {
namespace {

// Reads `from` and writes what it read to the new file `to`, as cat from > to does: the
// destination opened first, the source closed before it.
void copy_by_hand(const std::string& from, const std::string& to) {
  const int out = open(to.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(out >= 0);
  const int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(in >= 0);
  char buffer[256];
  const ssize_t n = read(in, buffer, sizeof buffer);
  REQUIRE(n > 0);
  REQUIRE(write(out, buffer, static_cast<std::size_t>(n)) == n);
  close(in);
  close(out);
}

}  // namespace

TEST_CASE(
    "kernel: a reader's records queued before our own hashing read of the same file stay the "
    "reader's") {
  folderhook::test::TempDir folder;
  const std::string a = folder.path() + "/a";
  {
    const int fd = open(a.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "the source of two copies\n", 25) == 25);
    close(fd);
  }
  const int inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(inotify >= 0);
  {
    RealFileSystem fs(inotify);
    WatchOptions options;
    options.roots.push_back({folder.path(), {}});
    ActionBuilder builder(options, fs,
                          [](std::string_view, std::string_view, const nlohmann::json&) {},
                          ActionBuilder::Scope::kPerDirectory, &fs);
    Timestamp now{std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
    builder.start(now);
    // Both copies are made before the builder reads anything: naming b hashes a, and the
    // records of that read are queued behind those of the second copy, which reads a too.
    copy_by_hand(a, folder.path() + "/b");
    copy_by_hand(a, folder.path() + "/c");
    alignas(inotify_event) char buffer[64 * 1024];
    for (int round = 0; round < 100; ++round) {
      const ssize_t n = read(inotify, buffer, sizeof buffer);
      if (n <= 0) break;  // EAGAIN: our own reads' records are read too
      for (const RawRecord& record :
           decode_inotify_records(std::string_view(buffer, static_cast<std::size_t>(n)))) {
        builder.feed(fs.translate(record), now);
      }
      now.mono += std::chrono::milliseconds(10);
      builder.tick(now);
    }
    now.mono += std::chrono::seconds(10);  // past every settle window
    builder.tick(now);
    std::vector<std::string> actions;
    for (const FileAction& action : builder.take_actions()) {
      std::string line = std::string(to_string(action.action)) + " " + action.path;
      if (!action.destination.empty()) line += " -> " + action.destination;
      actions.push_back(line);
    }
    CHECK(actions == std::vector<std::string>{"copy " + a + " -> " + folder.path() + "/b",
                                              "copy " + a + " -> " + folder.path() + "/c"});
  }
  close(inotify);
}

TEST_CASE("kernel: markers come back in order, one record each, and one lost is skipped") {
  const int inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(inotify >= 0);
  {
    RealFileSystem fs(inotify);
    std::vector<uint64_t> put;
    for (int i = 0; i < 7; ++i) put.push_back(fs.put_marker());
    CHECK(put == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7});
    alignas(inotify_event) char buffer[4096];
    const ssize_t n = read(inotify, buffer, sizeof buffer);
    REQUIRE(n > 0);
    const auto records =
        decode_inotify_records(std::string_view(buffer, static_cast<std::size_t>(n)));
    REQUIRE(records.size() == 7);  // none merged with the one before
    std::vector<uint64_t> read_back;
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (i == 2) continue;  // as if lost to an overflow
      read_back.push_back(fs.marker_read(records[i].wd));
    }
    CHECK(read_back == std::vector<uint64_t>{1, 2, 4, 5, 6, 7});
    CHECK(fs.marker_read(-1) == 0);  // an overflow record is no marker
  }
  close(inotify);
}

TEST_CASE("kernel: the inotify backend hands its markers to the builder as marker records") {
  const int inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(inotify >= 0);
  {
    RealFileSystem fs(inotify);
    ReadMarkers& markers = fs;  // what the builder is given
    REQUIRE(markers.put_marker() == 1);
    REQUIRE(markers.put_marker() == 2);
    alignas(inotify_event) char buffer[4096];
    const ssize_t n = read(inotify, buffer, sizeof buffer);
    REQUIRE(n > 0);
    const auto raw = decode_inotify_records(std::string_view(buffer, static_cast<std::size_t>(n)));
    REQUIRE(raw.size() == 2);
    for (std::size_t i = 0; i < raw.size(); ++i) {
      CHECK(raw[i].mask == IN_ATTRIB);  // an IN_ATTRIB to the kernel, a marker to the builder
      const Record record = fs.translate(raw[i]);
      CHECK(record.kinds == RecordKinds{RecordKind::kMarker});
      CHECK(record.marker == i + 1);
    }
    const Record other = fs.translate({-1, IN_Q_OVERFLOW, 0, ""});
    CHECK(other.kinds == RecordKinds{RecordKind::kOverflow});
    CHECK(other.marker == 0);
  }
  close(inotify);
}

}  // namespace folderhook::watch
