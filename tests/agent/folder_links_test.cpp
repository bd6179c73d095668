#include "agent/folder_links.h"

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

using namespace folderhook::agent;
using folderhook::test::shell;
using folderhook::test::TempDir;

TEST_CASE("a watched path is named under its folder's configured name, and back") {
  const FolderLinks links{{"/srv/up", "/data/up"}, {"/srv/plain", "/srv/plain"}};
  CHECK(to_configured(links, "/data/up/a/b.txt") == "/srv/up/a/b.txt");
  CHECK(to_configured(links, "/data/up") == "/srv/up");
  CHECK(to_configured(links, "/data/upper/x") == "/data/upper/x");
  CHECK(to_configured(links, "/srv/plain/x") == "/srv/plain/x");
  CHECK(to_configured(links, "/elsewhere") == "/elsewhere");
  CHECK(to_watched(links, "/srv/up/a/b.txt") == "/data/up/a/b.txt");
  CHECK(watched_of(links, "/srv/up") == "/data/up");
  CHECK(watched_of(links, "/not/a/folder") == "/not/a/folder");
  CHECK(any_folder_link(links));
  CHECK_FALSE(any_folder_link({{"/srv/plain", "/srv/plain"}}));
}

TEST_CASE("the innermost folder whose directory holds the path names it") {
  // /srv/outer holds a link `inner` to /data/inner, itself a watched folder.
  const FolderLinks links{{"/srv/outer", "/srv/outer"}, {"/srv/outer/inner", "/data/inner"}};
  CHECK(to_configured(links, "/data/inner/f") == "/srv/outer/inner/f");
  CHECK(to_watched(links, "/srv/outer/inner/f") == "/data/inner/f");
  CHECK(to_watched(links, "/srv/outer/other/f") == "/srv/outer/other/f");
}

TEST_CASE(
    "a folder that is a symlink resolves to its directory; one that points nowhere to its target") {
  TempDir dir;
  REQUIRE(shell("mkdir " + dir / "real " + dir / "plain && ln -s real " +
                dir / "link && ln -s link " + dir / "chain && ln -s later " + dir / "dangling") ==
          0);
  std::vector<FolderRule> folders(5);
  folders[0].path = dir / "link";
  folders[1].path = dir / "chain";
  folders[2].path = dir / "dangling";
  folders[3].path = dir / "plain";
  folders[4].path = dir / "missing";
  const FolderLinks links = resolve_folder_links(folders);
  REQUIRE(links.size() == 5);
  CHECK(links[0].watched == dir / "real");
  CHECK(links[1].watched == dir / "real");
  CHECK(links[2].watched == dir / "later");
  CHECK(links[3].watched == dir / "plain");
  CHECK(links[4].watched == dir / "missing");
  CHECK(links[0].path == dir / "link");
}
