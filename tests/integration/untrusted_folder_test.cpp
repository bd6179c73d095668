// The agent as root beside a folder that an unprivileged user writes into (DESIGN.md, "Acting
// on untrusted folders"): the user swaps directories for symlinks to root-owned directories
// while the agent acts, and nothing outside the folder is ever deleted or read. Each attack is
// a loop run by a user the test creates, long enough to win the race against the agent that
// acted by path (against b7e744c^ the retention, move_after and remove_empty_dirs attacks each
// took all 50 of root's entries in 3 runs of 3; file_field sent the secret for 168 to 195 of
// its 200 tries, 3 runs of 3), and no longer.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "tests/support/running_agent.h"
#include "tests/support/test_user.h"
#include "tests/support/wait.h"

using namespace folderhook::test;
using namespace std::chrono_literals;

namespace {

constexpr int kVictims = 50;

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string victim_name(int i) {
  char name[16];  // room for any int: -O1 warns of truncation otherwise
  std::snprintf(name, sizeof name, "f%03d", i);
  return name;
}

// Every user may write into the folder (and reach it); nothing else of the test's is theirs.
void open_to_users(const RunningAgent& r) {
  REQUIRE(shell("chmod 755 " + r.dir.path() + " && chmod 777 " + r.in) == 0);
}

// Runs `attack` in a child process as `user` (its uid and group, no other groups); returns its
// exit status once it is done. The child of a threaded test: `attack` must only make system
// calls on what was prepared before (no allocation, no locks).
int run_as(const TestUser& user, const std::function<int()>& attack) {
  const passwd* pw = ::getpwnam(user.name().c_str());
  REQUIRE(pw != nullptr);
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(2);
    ::_exit(attack());
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool has_webhook(const Receiver& receiver, const std::string& action, const std::string& path) {
  for (const Webhook& hook : receiver.received()) {
    const auto part = hook.parts.find("path");
    const std::string got = part != hook.parts.end() ? part->second.second : hook.param("path");
    const auto kind = hook.parts.find("action");
    const std::string did = kind != hook.parts.end() ? kind->second.second : hook.param("action");
    if (got == path && did == action) return true;
  }
  return false;
}

// What the user keeps in their directory `d`, and what root keeps in `victim` under the
// same names.
enum class Layout {
  kOldFiles,        // old files f000.. in both
  kOldFilesArchive, // the same, and the user empties archive/d (theirs) of what was moved there
  kEmptiedDirs,     // e000../x (old) and a new `keep` in d; empty directories e000.. in victim
};

// `behavior` (a [[folder.behavior]] table) every 100 ms on a folder where, for 3 s, `d` is the
// user's directory one moment and a symlink to root's directory `victim` the next. Returns how
// many of root's entries are gone from victim. (d itself is never emptied: the behavior would
// remove it with remove_empty_dirs, and end the attack.)
int swap_attack(const std::string& behavior, Layout layout) {
  TestUser user;
  if (!user.available()) return 0;
  // Only the marker is reported: thousands of webhooks for the user's files would only slow
  // the test down. The log says what the behavior did.
  RunningAgent r(rules_template("", "include = [\"after-the-attack\"]\n" + behavior,
                                "behavior_interval = \"100ms\"\n"),
                 /*start_now=*/false);
  const std::string d = r.in + "/d", link = r.in + "/link", victim = r.dir / "victim";
  const std::string archive = r.in + "/archive", archived = archive + "/d";
  const bool dirs = layout == Layout::kEmptiedDirs;
  REQUIRE(shell("mkdir " + victim) == 0);
  std::vector<std::string> names;
  for (int i = 0; i < kVictims; ++i) {
    names.push_back((dirs ? "e" : "") + victim_name(i));
    if (dirs) {
      REQUIRE(::mkdir((victim + "/" + names.back()).c_str(), 0755) == 0);
    } else {
      write_file(victim + "/" + names.back(), "root's " + names.back());
    }
  }
  REQUIRE(shell("touch -d '5 days ago' " + victim + "/*") == 0);
  open_to_users(r);
  r.start();

  // The user's side, in a child that runs as the user and allocates nothing: `d` and `link`
  // are swapped with renameat2 RENAME_EXCHANGE (so `d` is never missing), and the user's own
  // old files in the directory, named as root's, are made again now and then, as the behavior
  // takes them away.
  std::vector<const char*> files;   // the user's old files, relative to d
  std::vector<const char*> subdirs; // their directories (kEmptiedDirs)
  std::vector<std::string> paths;
  for (const std::string& name : names) paths.push_back(dirs ? name + "/x" : name);
  for (size_t i = 0; i < names.size(); ++i) {
    files.push_back(paths[i].c_str());
    if (dirs) subdirs.push_back(names[i].c_str());
  }
  const bool empty_archive = layout == Layout::kOldFilesArchive;
  const int status = run_as(user, [&] {
    if (::mkdir(d.c_str(), 0755) != 0 || ::symlink(victim.c_str(), link.c_str()) != 0) return 1;
    const int real = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (real < 0) return 1;
    if (dirs) {
      const int keep = ::openat(real, "keep", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (keep < 0) return 1;
      ::close(keep);
    }
    // move_after refuses to overwrite what it moved before: the user empties the archive
    // directory (made by the user, so theirs to empty) for the next round.
    int archive_fd = -1;
    if (empty_archive) {
      if (::mkdir(archive.c_str(), 0755) != 0 || ::mkdir(archived.c_str(), 0755) != 0) return 1;
      archive_fd = ::open(archived.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (archive_fd < 0) return 1;
    }
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const time_t end = now.tv_sec + 3;
    const timespec old[2] = {{::time(nullptr) - 5 * 86400, 0}, {::time(nullptr) - 5 * 86400, 0}};
    const timespec pace{0, 200'000};
    for (int swap = 0; now.tv_sec < end; ++swap) {
      if (swap % 100 == 0) {
        for (const char* subdir : subdirs) (void)::mkdirat(real, subdir, 0755);
        for (const char* file : files) {
          if (archive_fd >= 0) (void)::unlinkat(archive_fd, file, 0);
          const int fd = ::openat(real, file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
          if (fd >= 0) (void)::futimens(fd, old), ::close(fd);
        }
      }
      ::syscall(SYS_renameat2, AT_FDCWD, d.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE);
      ::nanosleep(&pace, nullptr);  // pacing the attack, not waiting for anything
      ::clock_gettime(CLOCK_MONOTONIC, &now);
    }
    return 0;
  });
  CHECK(status == 0);
  // A run that began during the attack has ended once a run after it acted on this.
  write_file(r.in + "/after-the-attack", "old");
  REQUIRE(shell("touch -d '5 days ago' " + r.in + "/after-the-attack") == 0);
  const bool ran = wait_until(
      [&] {
        return has_webhook(r.receiver, "destroy", r.in + "/after-the-attack") ||
               has_webhook(r.receiver, "move", r.in + "/after-the-attack");
      },
      30s);
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(ran);
  // The behavior did run against the user's files meanwhile, many times: the attack was tried.
  const std::string log = r.agent->output();
  int runs = 0;
  for (size_t at = log.find("\"msg\":\"behavior ran\""); at != std::string::npos;
       at = log.find("\"msg\":\"behavior ran\"", at + 1)) {
    ++runs;
  }
  CHECK(runs >= 10);

  int missing = 0;
  for (const std::string& name : names) {
    if (!exists(victim + "/" + name)) ++missing;
  }
  return missing;
}

}  // namespace

TEST_CASE("retention never deletes outside the folder through a directory swapped for a symlink") {
  CHECK(swap_attack("[[folder.behavior]]\nkind = \"retention\"\nafter = \"1d\"\n",
                    Layout::kOldFiles) == 0);
}

TEST_CASE("move_after never moves files from outside the folder through a swapped directory") {
  CHECK(swap_attack("[[folder.behavior]]\nkind = \"move_after\"\nafter = \"1d\"\n"
                    "to = \"{IN}/archive\"\n",
                    Layout::kOldFilesArchive) == 0);
}

TEST_CASE("remove_empty_dirs never removes a directory outside the folder through a swapped parent") {
  CHECK(swap_attack("[[folder.behavior]]\nkind = \"retention\"\nafter = \"1d\"\n"
                    "remove_empty_dirs = true\n",
                    Layout::kEmptiedDirs) == 0);
}

TEST_CASE("file_field never reads a file through a directory swapped for a symlink") {
  TestUser user;
  if (!user.available()) return;
  RunningAgent r(rules_template("",
                                "method = \"POST\"\nfile_field = \"upload\"\n"
                                "include = [\"**/shadow\", \"after-the-attack\"]\n"),
                 /*start_now=*/false);
  const std::string secret = "root-only secret 4242";
  REQUIRE(shell("mkdir -m 700 " + r.dir / "secret") == 0);
  write_file(r.dir / "secret/shadow", secret);
  REQUIRE(shell("chmod 600 " + r.dir / "secret/shadow") == 0);
  open_to_users(r);
  r.start();

  // q<i>/shadow is the user's file when it is reported, and q<i> a symlink to secret when it
  // is read: the swap follows the close at once (a shell loop, a process per step, mostly
  // loses the race to the agent's read).
  constexpr int kTries = 200;
  std::vector<std::string> dirs, files, aways;
  for (int i = 0; i < kTries; ++i) {
    dirs.push_back(r.in + "/q" + std::to_string(i));
    files.push_back(dirs.back() + "/shadow");
    aways.push_back(r.in + "/away" + std::to_string(i));
  }
  const std::string secret_dir = r.dir / "secret";
  const int status = run_as(user, [&] {
    for (int i = 0; i < kTries; ++i) {
      if (::mkdir(dirs[i].c_str(), 0755) != 0) return 1;
      const int fd = ::open(files[i].c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0 || ::write(fd, "harmless\n", 9) != 9 || ::close(fd) != 0) return 1;
      if (::rename(dirs[i].c_str(), aways[i].c_str()) != 0) return 1;
      if (::symlink(secret_dir.c_str(), dirs[i].c_str()) != 0) return 1;
    }
    return 0;
  });
  CHECK(status == 0);
  // Deliveries keep the order of the operations: once this one is in, every upload before it is.
  write_file(r.in + "/after-the-attack", "done");
  const bool in = wait_until(
      [&] { return has_webhook(r.receiver, "create", r.in + "/after-the-attack"); }, 60s);
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(in);

  int shadows = 0;
  for (const Webhook& hook : r.receiver.received()) {
    const auto path = hook.parts.find("path");
    if (path != hook.parts.end() && path->second.second.ends_with("/shadow")) ++shadows;
    for (const auto& [name, part] : hook.parts) {
      CAPTURE(name);
      CHECK(part.second.find(secret) == std::string::npos);
    }
  }
  // The user's files were reported and read (or skipped) meanwhile: the attack was tried.
  CHECK(shadows >= 50);
}
