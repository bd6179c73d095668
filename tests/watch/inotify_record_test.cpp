#include "watch/inotify_record.h"

#include <sys/inotify.h>

#include <doctest/doctest.h>

namespace folderhook::watch {

TEST_CASE("records decode from the bytes of one read, names without their NUL padding") {
  const std::string bytes = encode_inotify_record({3, IN_CREATE | IN_ISDIR, 0, "dir"}) +
                            encode_inotify_record({4, IN_MOVED_FROM, 77, "a b\n&%"}) +
                            encode_inotify_record({4, IN_DELETE_SELF, 0, ""}) +
                            encode_inotify_record({-1, IN_Q_OVERFLOW, 0, ""});
  const auto records = decode_inotify_records(bytes);
  REQUIRE(records.size() == 4);
  CHECK(records[0].wd == 3);
  CHECK(records[0].mask == (IN_CREATE | IN_ISDIR));
  CHECK(records[0].name == "dir");
  CHECK(records[1].cookie == 77);
  CHECK(records[1].name == "a b\n&%");
  CHECK(records[2].name.empty());
  CHECK(records[3].wd == -1);
  CHECK(describe_mask(records[0].mask) == "CREATE|ISDIR");
}

TEST_CASE("a truncated trailing record is dropped rather than read out of bounds") {
  std::string bytes = encode_inotify_record({1, IN_CREATE, 0, "a"}) +
                      encode_inotify_record({1, IN_CREATE, 0, "long-name"});
  bytes.resize(bytes.size() - 3);
  const auto records = decode_inotify_records(bytes);
  REQUIRE(records.size() == 1);
  CHECK(records[0].name == "a");
  CHECK(decode_inotify_records(bytes.substr(0, 5)).empty());
}

}  // namespace folderhook::watch
