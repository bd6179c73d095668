// ActionBuilder: renames that arrive as something else. A hard link then an unlink of the old
// name (OpenSSH sftp-server's plain rename, `ln a b && rm a`) is one move; a file renamed in
// from outside every folder while its writer still holds it (nginx's WebDAV PUT), closed
// after, is one create or one update. Both scopes: per directory (inotify) and whole
// filesystem (fanotify).
#include <doctest/doctest.h>

#include "tests/watch/builder_harness.h"

namespace folderhook::watch::testing {
namespace {

using Scope = ActionBuilder::Scope;

// Feeds one record for `name` in `dir` whatever the scope (fanotify: indexed first).
struct Renames {
  explicit Renames(Scope scope) : h(Harness::default_options(), scope), scope_(scope) {}
  void start() {
    h.start();
    if (scope_ == Scope::kWholeFilesystem) h.advance(0);  // the background index
  }
  // A file at `path` with this content and inode number, in the fake tree.
  void file(const std::string& path, const std::string& content, uint64_t ino) {
    h.fs.write(path, content);
    h.fs.set_ino(path, ino);
  }
  // `name` arrives in `dir` by a rename from outside, with this content: its MOVED_TO fed.
  void moved_in(const std::string& dir, const std::string& name, const std::string& content,
                uint32_t cookie) {
    h.fs.write(dir + "/" + name, content);
    record(dir, IN_MOVED_TO, name, cookie);
  }
  // `name` in `dir` is unlinked, and its DELETE fed.
  void removed(const std::string& dir, const std::string& name) {
    h.fs.remove_tree(dir + "/" + name);
    record(dir, IN_DELETE, name);
  }
  void record(const std::string& dir, uint32_t mask, const std::string& name,
              uint32_t cookie = 0) {
    if (scope_ == Scope::kWholeFilesystem) {
      h.path_record(dir, mask, name, Actor{}, cookie);
    } else {
      h.record(dir, mask, name, cookie);
    }
  }
  Harness h;

 private:
  Scope scope_;
};

const Scope kScopes[] = {Scope::kPerDirectory, Scope::kWholeFilesystem};

std::string scope_name(Scope scope) {
  return scope == Scope::kPerDirectory ? "inotify" : "fanotify";
}

// Runs `body` on a fresh Renames in each scope.
template <typename Body>
void in_each_scope(Body body) {
  for (const Scope scope : kScopes) {
    CAPTURE(scope_name(scope));
    Renames r(scope);
    body(r);
  }
}

}  // namespace

TEST_CASE("a hard link then an unlink of the old name is one move") {
  in_each_scope([](Renames& r) {
    r.h.fs.mkdir("/r/sub");
    r.file("/r/a", "x", 7);
    r.start();
    r.h.fs.link("/r/a", "/r/sub/b");
    r.record("/r/sub", IN_CREATE, "b");
    r.removed("/r", "a");
    CHECK(r.h.actions() == Lines{"move file /r/a -> /r/sub/b"});
    r.h.advance(1000);
    CHECK(r.h.actions().empty());
    // The new name is known as the file: deleting it is its destroy.
    r.removed("/r/sub", "b");
    CHECK(r.h.actions() == Lines{"destroy file /r/sub/b"});
  });
}

TEST_CASE("a hard link that stays is a create of the new name, the old one untouched") {
  in_each_scope([](Renames& r) {
    r.file("/r/a", "x", 7);
    r.start();
    r.h.fs.link("/r/a", "/r/b");
    r.record("/r", IN_CREATE, "b");
    r.h.advance(200);
    CHECK(r.h.actions() == Lines{"create file /r/b"});
    // Unlinked past the settle window: two names were reported, one goes.
    r.removed("/r", "a");
    CHECK(r.h.actions() == Lines{"destroy file /r/a"});
  });
}

TEST_CASE("a link of another inode and an unrelated delete stay a create and a destroy") {
  in_each_scope([](Renames& r) {
    r.file("/r/a", "x", 7);
    r.file("/r/c", "x", 8);
    r.start();
    r.h.fs.link("/r/a", "/r/b");
    r.record("/r", IN_CREATE, "b");
    r.removed("/r", "c");
    CHECK(r.h.actions() == Lines{"destroy file /r/c"});
    r.h.advance(200);
    CHECK(r.h.actions() == Lines{"create file /r/b"});
  });
}

TEST_CASE("a new file being written is no link: its delete-neighbour stays a destroy") {
  in_each_scope([](Renames& r) {
    r.file("/r/a", "x", 7);
    r.start();
    // The inode number of a freed file may come back: only a name no OPEN followed pairs.
    r.file("/r/n", "y", 7);
    r.record("/r", IN_CREATE, "n");
    r.record("/r", IN_OPEN, "n");
    r.removed("/r", "a");
    r.record("/r", IN_CLOSE_WRITE, "n");
    CHECK(r.h.actions() == Lines{"destroy file /r/a", "create file /r/n"});
  });
}

TEST_CASE("a file renamed in from outside while open, closed after, is one create") {
  in_each_scope([](Renames& r) {
    r.start();
    r.moved_in("/r", "p.bin", "body", 5);
    r.record("/r", IN_CLOSE_WRITE, "p.bin");
    r.h.advance(1000);
    CHECK(r.h.actions() == Lines{"create file /r/p.bin"});
  });
}

TEST_CASE("a file renamed in while open onto an existing one, closed after, is one update") {
  in_each_scope([](Renames& r) {
    r.h.fs.write("/r/p.bin", "old");
    r.start();
    r.moved_in("/r", "p.bin", "new body", 5);
    r.record("/r", IN_CLOSE_WRITE, "p.bin");
    r.h.advance(1000);
    CHECK(r.h.actions() == Lines{"update file /r/p.bin"});
  });
}

TEST_CASE("a temp file inside the folder renamed while open, closed after, is one create") {
  in_each_scope([](Renames& r) {
    r.h.fs.mkdir("/r/tmp");
    r.start();
    r.h.fs.write("/r/tmp/0000000001", "");
    r.record("/r/tmp", IN_CREATE, "0000000001");
    r.record("/r/tmp", IN_OPEN, "0000000001");
    r.h.fs.write("/r/tmp/0000000001", "body");
    r.h.advance(300);  // a slow body: longer than the settle window
    r.h.fs.rename("/r/tmp/0000000001", "/r/p.bin");
    r.record("/r/tmp", IN_MOVED_FROM, "0000000001", 9);
    r.record("/r", IN_MOVED_TO, "p.bin", 9);
    r.record("/r", IN_CLOSE_WRITE, "p.bin");
    r.h.advance(1000);
    CHECK(r.h.actions() == Lines{"create file /r/p.bin"});
  });
}

TEST_CASE("a moved-in file written again by another open is a create then an update") {
  in_each_scope([](Renames& r) {
    r.start();
    r.moved_in("/r", "m", "moved", 5);
    r.record("/r", IN_OPEN, "m");
    r.record("/r", IN_CLOSE_WRITE, "m");  // same size and mtime in the fake: the OPEN decides
    CHECK(r.h.actions() == Lines{"create file /r/m", "update file /r/m"});
  });
}

TEST_CASE("a moved-in file written on by its old descriptor is a create then an update") {
  in_each_scope([](Renames& r) {
    r.start();
    r.moved_in("/r", "m", "first part", 5);
    r.h.fs.write("/r/m", "first part, then more");
    r.record("/r", IN_CLOSE_WRITE, "m");
    CHECK(r.h.actions() == Lines{"create file /r/m", "update file /r/m"});
  });
}

TEST_CASE("an update of a file moved in a minute earlier is still an update") {
  in_each_scope([](Renames& r) {
    r.start();
    r.moved_in("/r", "m", "moved", 5);
    r.h.advance(60'000);
    r.record("/r", IN_OPEN, "m");
    r.h.fs.write("/r/m", "moved");
    r.record("/r", IN_CLOSE_WRITE, "m");
    CHECK(r.h.actions() == Lines{"create file /r/m", "update file /r/m"});
  });
}

TEST_CASE("after lost records, a moved-in file's close is an update: its OPEN may be lost") {
  in_each_scope([](Renames& r) {
    r.start();
    r.moved_in("/r", "m", "moved", 5);
    r.record("/r", IN_Q_OVERFLOW, "");
    r.record("/r", IN_CLOSE_WRITE, "m");
    CHECK(r.h.actions() == Lines{"create file /r/m", "update file /r/m"});
  });
}

}  // namespace folderhook::watch::testing
