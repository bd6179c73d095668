#include "delivery/state_dir.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "delivery/outbox.h"
#include "tests/support/file_mode.h"
#include "tests/support/temp_dir.h"

using namespace folderhook::delivery;
using folderhook::test::mode_of;
using folderhook::test::shell;
using folderhook::test::UmaskFor;
using folderhook::test::write_file;

TEST_CASE("a new state_dir is 0700 and the lock, the outbox, its WAL and SHM 0600 with umask 0") {
  folderhook::test::TempDir dir;
  const std::string state = dir / "a/b/state";
  UmaskFor umask(0);
  std::string error;
  auto lock = StateLock::acquire(state, error);
  REQUIRE_MESSAGE(lock, error);
  auto outbox = Outbox::open(state, error);
  REQUIRE_MESSAGE(outbox, error);
  CHECK(mode_of(state) == 0700);
  // SQLite gives the files it makes beside the database the database's mode.
  for (const char* file : {"lock", "outbox.db", "outbox.db-wal", "outbox.db-shm"}) {
    CAPTURE(file);
    CHECK(mode_of(state + "/" + file) == 0600);
  }
}

TEST_CASE("prepare_state_dir tightens an existing state_dir and its files, and says what it changed") {
  folderhook::test::TempDir dir;
  const std::string state = dir / "state";
  REQUIRE(shell("mkdir -m 755 " + state + " && touch " + state + "/outbox.db " + state +
                "/behaviors.json " + state + "/private && chmod 644 " + state + "/outbox.db && "
                "chmod 640 " + state + "/behaviors.json && chmod 600 " + state + "/private && "
                "ln -s /etc/passwd " + state + "/link") == 0);
  const unsigned passwd = mode_of("/etc/passwd");
  std::vector<std::string> tightened;
  std::string error;
  REQUIRE_MESSAGE(prepare_state_dir(state, tightened, error), error);
  CHECK(mode_of(state) == 0700);
  CHECK(mode_of(state + "/outbox.db") == 0600);
  CHECK(mode_of(state + "/behaviors.json") == 0600);
  CHECK(mode_of("/etc/passwd") == passwd);  // a symlink is not followed
  std::sort(tightened.begin(), tightened.end());
  CHECK(tightened == std::vector<std::string>{state + "/behaviors.json: 0640 -> 0600",
                                              state + "/outbox.db: 0644 -> 0600",
                                              state + ": 0755 -> 0700"});
  tightened.clear();
  REQUIRE(prepare_state_dir(state, tightened, error));
  CHECK(tightened.empty());
}

TEST_CASE("a state_dir that others can write or that another user owns is refused, unchanged") {
  folderhook::test::TempDir dir;
  const std::string state = dir / "state";
  REQUIRE(shell("mkdir -m 775 " + state) == 0);
  std::vector<std::string> tightened;
  std::string error;
  CHECK_FALSE(prepare_state_dir(state, tightened, error));
  CHECK(error == "state_dir '" + state + "' can be written by other users (mode 0775): they "
                 "could replace the outbox; chmod go-w it, or choose another state_dir");
  CHECK(mode_of(state) == 0775);
  CHECK(state_dir_problem(state).rfind("can be written by other users (mode 0775)", 0) == 0);
  if (::geteuid() == 0) {
    REQUIRE(shell("chmod 700 " + state + " && chown nobody " + state) == 0);
    // `status` by root on the state_dir of an agent that runs as its own user is fine; an
    // agent that would trust another user's files is not.
    CHECK(state_dir_problem(state) == "");
    CHECK_FALSE(prepare_state_dir(state, tightened, error));
    CHECK(error.find("' belongs to uid ") != std::string::npos);
  }
}

TEST_CASE("state_dir_problem: fine when creatable, and says why when not, leaving nothing") {
  folderhook::test::TempDir dir;
  CHECK(state_dir_problem(dir / "new/deeper/state") == "");
  CHECK(::access((dir / "new").c_str(), F_OK) != 0);  // the probe removed what it made
  REQUIRE(shell("ln -s " + dir / "nowhere" + " " + dir / "dangling") == 0);
  CHECK(state_dir_problem(dir / "dangling/state") ==
        "cannot be created (" + dir / "dangling" + ": File exists)");
  write_file(dir / "file", "x");
  CHECK(state_dir_problem(dir / "file/state") == "cannot be created: '" + dir / "file" +
                                                      "' is not a directory");
  CHECK(state_dir_problem(dir / "file") == "is not a directory");
  CHECK(state_dir_problem(dir.path()) == "");
}

TEST_CASE("replace_private_file writes 0600 whatever the umask, and replaces the old content") {
  folderhook::test::TempDir dir;
  UmaskFor umask(0);
  const std::string path = dir / "behaviors.json";
  write_file(path, "old");
  std::string error;
  REQUIRE(replace_private_file(path, "new", error));
  CHECK(folderhook::test::read_file(path) == "new");
  CHECK(mode_of(path) == 0600);
  CHECK(::access((path + ".tmp").c_str(), F_OK) != 0);
}
