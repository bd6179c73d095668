#include "agent/beneath.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include "tests/support/temp_dir.h"

using namespace folderhook::agent;
using folderhook::test::shell;
using folderhook::test::TempDir;
using folderhook::test::write_file;

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

ObjectId id_at(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return id_of(st);
}

// A folder `in` and, beside it, a directory `outside` with a file `secret`.
struct Layout {
  TempDir dir;
  Fd root;
  Layout() {
    REQUIRE(shell("mkdir -p " + dir / "in/sub " + dir / "outside") == 0);
    write_file(dir / "outside/secret", "outside");
    write_file(dir / "in/sub/file", "inside");
    REQUIRE(open_root(dir / "in", root) == 0);
  }
};

}  // namespace

TEST_CASE("a file beneath the folder opens, and is the object at its path") {
  Layout l;
  Fd file;
  REQUIRE(open_beneath(l.root.get(), "sub/file", O_RDONLY, file) == 0);
  struct stat st {};
  REQUIRE(::fstat(file.get(), &st) == 0);
  CHECK(id_of(st) == id_at(l.dir / "in/sub/file"));
}

TEST_CASE("a symlink in a middle component is refused, wherever it points") {
  Layout l;
  REQUIRE(shell("ln -s " + l.dir / "outside " + l.dir / "in/out") == 0);
  REQUIRE(shell("ln -s sub " + l.dir / "in/inner") == 0);
  Fd file;
  CHECK(open_beneath(l.root.get(), "out/secret", O_RDONLY, file) == ELOOP);
  CHECK(open_beneath(l.root.get(), "inner/file", O_RDONLY, file) == ELOOP);
  CHECK_FALSE(file.valid());
  Fd parent;
  std::string name;
  CHECK(open_parent_beneath(l.root.get(), "out/secret", parent, name) == ELOOP);
  CHECK(describe(ELOOP) == "a symlink in its path");
}

TEST_CASE("a symlink as the last component is refused, not followed") {
  Layout l;
  REQUIRE(shell("ln -s " + l.dir / "outside/secret " + l.dir / "in/link") == 0);
  Fd file;
  CHECK(open_beneath(l.root.get(), "link", O_RDONLY, file) == ELOOP);
}

TEST_CASE("'..', '.', absolute and unclean paths are refused before the kernel sees them") {
  Layout l;
  for (const char* bad : {"..", "../outside/secret", "sub/../../outside/secret", "sub/../sub/file",
                          "./sub/file", "/etc/passwd", "", "sub//file", "sub/"}) {
    CAPTURE(bad);
    CHECK(check_relative(bad) == EINVAL);
    Fd file;
    CHECK(open_beneath(l.root.get(), bad, O_RDONLY, file) == EINVAL);
  }
  CHECK(check_relative("sub/file") == 0);
  CHECK(check_relative("..hidden/a..b") == 0);
}

TEST_CASE("unlink_checked leaves alone another object put in the listed one's place") {
  Layout l;
  const ObjectId listed = id_at(l.dir / "in/sub/file");
  write_file(l.dir / "in/sub/other", "someone else's");
  REQUIRE(::rename((l.dir / "in/sub/other").c_str(), (l.dir / "in/sub/file").c_str()) == 0);
  Fd parent;
  std::string name;
  REQUIRE(open_parent_beneath(l.root.get(), "sub/file", parent, name) == 0);
  CHECK(name == "file");
  CHECK(unlink_checked(parent.get(), name, listed, 0) == kReplaced);
  CHECK(exists(l.dir / "in/sub/file"));
  CHECK(unlink_checked(parent.get(), name, id_at(l.dir / "in/sub/file"), AT_REMOVEDIR) == ENOTDIR);
  CHECK(unlink_checked(parent.get(), name, id_at(l.dir / "in/sub/file"), 0) == 0);
  CHECK_FALSE(exists(l.dir / "in/sub/file"));
}

TEST_CASE("a parent opened before its path became a symlink keeps acting inside the folder") {
  Layout l;
  write_file(l.dir / "outside/file", "outside");
  const ObjectId listed = id_at(l.dir / "in/sub/file");
  Fd parent;
  std::string name;
  REQUIRE(open_parent_beneath(l.root.get(), "sub/file", parent, name) == 0);
  REQUIRE(shell("mv " + l.dir / "in/sub " + l.dir / "in/away && ln -s " + l.dir / "outside " +
                l.dir / "in/sub") == 0);
  CHECK(unlink_checked(parent.get(), name, listed, 0) == 0);
  CHECK_FALSE(exists(l.dir / "in/away/file"));
  CHECK(exists(l.dir / "outside/file"));
}

TEST_CASE("rename_checked never replaces the target and moves only the listed object") {
  Layout l;
  write_file(l.dir / "in/taken", "already here");
  Fd parent;
  std::string name;
  REQUIRE(open_parent_beneath(l.root.get(), "sub/file", parent, name) == 0);
  const ObjectId listed = id_at(l.dir / "in/sub/file");
  CHECK(rename_checked(parent.get(), name, listed, l.root.get(), "taken") == EEXIST);
  CHECK(rename_checked(parent.get(), name, ObjectId{listed.dev, listed.ino + 1}, l.root.get(),
                       "moved") == kReplaced);
  CHECK(rename_checked(parent.get(), name, listed, l.root.get(), "moved") == 0);
  CHECK(id_at(l.dir / "in/moved") == listed);
}

TEST_CASE("make_dirs_beneath makes what is missing, and refuses a symlinked component") {
  Layout l;
  std::vector<std::string> told;
  std::vector<std::string> made;
  Fd dir;
  REQUIRE(make_dirs_beneath(l.root.get(), "sub/a/b", 0755, dir, made,
                            [&](const std::string& relative) { told.push_back(relative); }) == 0);
  CHECK(made == std::vector<std::string>{"sub/a", "sub/a/b"});
  CHECK(told == made);
  CHECK(exists(l.dir / "in/sub/a/b"));

  REQUIRE(shell("ln -s " + l.dir / "outside " + l.dir / "in/link") == 0);
  made.clear();
  CHECK(make_dirs_beneath(l.root.get(), "link/new", 0755, dir, made) == ELOOP);
  CHECK(made.empty());
  CHECK_FALSE(exists(l.dir / "outside/new"));
}
