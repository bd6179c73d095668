// agent/accounts.h: passwd and group parsed into snapshots, compared into changes, the webhook
// of a change, the snapshot's file; and [accounts] in the rules file.
#include "agent/accounts.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/agent/config_errors.h"
#include "tests/support/temp_dir.h"

using namespace folderhook::agent;

namespace {

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "# a comment\n"
    "\n"
    "alice:$6$secret.hash$abc:1001:1001:Alice A,,,:/home/alice:/bin/sh\n"
    "+nisuser::::::\n"
    "short:x:1\n"
    "alice:x:9999:9999::/elsewhere:/bin/false\n";
const char* kGroup = "root:x:0:\nstaff:x:50:alice,bob\nshort:x\n";

AccountSnapshot snapshot_of(const std::string& passwd, const std::string& group) {
  return {parse_passwd(passwd), parse_group(group)};
}

std::vector<std::string> summary(const std::vector<AccountChange>& changes) {
  std::vector<std::string> out;
  for (const AccountChange& c : changes) out.push_back(c.action + " " + c.type + " " + c.name);
  return out;
}

std::vector<std::string> rules_errors(const std::string& text) {
  return folderhook::agent::testing::config_errors(text);
}

const std::string kFolder = "[[folder]]\npath = \"/srv\"\nurls = [\"http://127.0.0.1:1/h\"]\n";

}  // namespace

TEST_CASE("passwd keeps name, uid, gid, home and shell of each user, never the password") {
  const auto users = parse_passwd(kPasswd);
  REQUIRE(users.size() == 2);  // root, alice; comment, NIS and short lines skipped
  const AccountFields alice = users.at("alice");
  // The first line of a name wins, as getpwnam answers.
  CHECK(alice == AccountFields{{"uid", "1001"}, {"gid", "1001"}, {"home", "/home/alice"},
                               {"shell", "/bin/sh"}});
  for (const auto& [name, fields] : users) {
    for (const auto& field : fields) CHECK(field.second.find("secret") == std::string::npos);
  }
  CHECK(encode_account_snapshot({users, {}}).find("secret") == std::string::npos);
}

TEST_CASE("group keeps name, gid and the member list as written") {
  const auto groups = parse_group(kGroup);
  REQUIRE(groups.size() == 2);
  CHECK(groups.at("staff") == AccountFields{{"gid", "50"}, {"members", "alice,bob"}});
  CHECK(groups.at("root") == AccountFields{{"gid", "0"}, {"members", ""}});
}

TEST_CASE("a comparison names each user and group created, updated or destroyed") {
  const auto before = snapshot_of("a:x:1:1::/a:/bin/sh\nb:x:2:2::/b:/bin/sh\n",
                                  "g:x:10:a\nh:x:11:\n");
  SUBCASE("nothing changed") { CHECK(diff_accounts(before, before).empty()); }
  SUBCASE("a shell changed (usermod -s) is one update; a gecos change alone is none") {
    const auto after = snapshot_of("a:x:1:1:Full Name:/a:/bin/bash\nb:x:2:2:New:/b:/bin/sh\n",
                                   "g:x:10:a\nh:x:11:\n");
    const auto changes = diff_accounts(before, after);
    CHECK(summary(changes) == std::vector<std::string>{"update user a"});
    CHECK(changes[0].fields[3] == std::pair<std::string, std::string>{"shell", "/bin/bash"});
  }
  SUBCASE("a member added (gpasswd -a) is one group update") {
    const auto after = snapshot_of("a:x:1:1::/a:/bin/sh\nb:x:2:2::/b:/bin/sh\n",
                                   "g:x:10:a,b\nh:x:11:\n");
    CHECK(summary(diff_accounts(before, after)) == std::vector<std::string>{"update group g"});
  }
  SUBCASE("created and destroyed, users before groups; a destroy carries the last fields") {
    const auto after = snapshot_of("a:x:1:1::/a:/bin/sh\nc:x:3:3::/c:/bin/sh\n",
                                   "g:x:10:a\nc:x:3:\n");
    const auto changes = diff_accounts(before, after);
    CHECK(summary(changes) == std::vector<std::string>{"create user c", "destroy user b",
                                                        "create group c", "destroy group h"});
    CHECK(changes[1].fields[0] == std::pair<std::string, std::string>{"uid", "2"});
  }
}

TEST_CASE("an account change's webhook: action, type, path, username, interface, at, fields") {
  const AccountChange change{"update", "group", "staff", {{"gid", "50"}, {"members", "a b,&c"}}};
  FolderRule rule;
  rule.path = "[accounts]";
  rule.urls = {"http://127.0.0.1:9/h"};
  rule.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  rule.headers = {{"X-Team", "ops"}};
  const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  const auto request = make_account_request(change, rule, "root", at, true);
  CHECK(request.method == "GET");
  CHECK(request.query ==
        "action=update&type=group&path=staff&username=root&interface=robot&"
        "at=2023-11-14T22%3A13%3A20%2B00%3A00&gid=50&members=a%20b%2C%26c");
  CHECK(request.secret == rule.secret);
  CHECK(request.headers == rule.headers);
  CHECK(request.action == "update group");
  CHECK(request.path == "staff");
  CHECK(request.rule == "[accounts]");
  CHECK(request.catch_up);

  rule.method = "POST";
  const auto post = make_account_request(change, rule, "root", at, false);
  CHECK(post.query.empty());
  CHECK(post.content_type == "application/json");
  CHECK(post.body.find("\"members\":\"a b,&c\"") != std::string::npos);
}

TEST_CASE("the snapshot file round-trips, is 0600, and a foreign one is refused") {
  folderhook::test::TempDir dir;
  std::string error;
  CHECK_FALSE(load_account_snapshot(dir.path(), error));
  CHECK(error.empty());  // none yet: the first start

  const auto snapshot = snapshot_of(kPasswd, kGroup);
  REQUIRE(save_account_snapshot(dir.path(), snapshot, error));
  struct stat st {};
  REQUIRE(::stat(account_snapshot_path(dir.path()).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const auto loaded = load_account_snapshot(dir.path(), error);
  REQUIRE(loaded);
  CHECK(*loaded == snapshot);

  std::ofstream(account_snapshot_path(dir.path())) << "root:x:0:0::/root:/bin/sh\n";
  CHECK_FALSE(load_account_snapshot(dir.path(), error));
  CHECK(error.find("not a folderhook accounts snapshot") != std::string::npos);
  CHECK_FALSE(decode_account_snapshot("folderhook accounts 1\nuser:x\n", error));
  CHECK(error == "line 2 is not a user or a group entry");
}

TEST_CASE("read_account_files refuses a directory without passwd rather than reading no users") {
  folderhook::test::TempDir dir;
  std::ofstream(dir / "group") << kGroup;
  std::string error;
  CHECK_FALSE(read_account_files(dir.path(), error));
  CHECK(error.find("passwd") != std::string::npos);
  std::ofstream(dir / "passwd") << kPasswd;
  error.clear();
  const auto read = read_account_files(dir.path(), error);
  REQUIRE(read);
  CHECK(read->users.size() == 2);
  CHECK(read->groups.size() == 2);
}

TEST_CASE("[accounts] takes urls, method, headers and secret as a folder does") {
  std::vector<ConfigError> errors;
  const auto config = parse_config(kFolder + R"(
[accounts]
urls = ["http://127.0.0.1:8787/accounts", "nats://127.0.0.1:4222/accounts"]
method = "POST"
headers = { X-Team = "ops" }
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)", "rules.toml", "/base", errors);
  REQUIRE(config);
  REQUIRE(config->accounts);
  CHECK(config->accounts->path == "[accounts]");
  CHECK(config->accounts->urls.size() == 2);
  CHECK(config->accounts->method == "POST");
  CHECK(config->accounts->headers ==
        std::vector<std::pair<std::string, std::string>>{{"X-Team", "ops"}});
  CHECK(holds_secrets(*config));
  CHECK_FALSE(parse_config(kFolder, "rules.toml", "/base", errors)->accounts);
}

TEST_CASE("check reports a bad [accounts] with FILE:LINE:COL") {
  CHECK(rules_errors(kFolder + "[accounts]\nmethod = \"GET\"\n") ==
        std::vector<std::string>{"rules.toml:4:1: [accounts] needs urls, a list of at least one URL"});
  CHECK(rules_errors(kFolder + "[accounts]\nurls = []\n") ==
        std::vector<std::string>{"rules.toml:5:8: accounts.urls must hold at least one URL"});
  CHECK(rules_errors(kFolder + "[accounts]\nurls = [\"http://h/x\"]\nmethod = \"PUT\"\n") ==
        std::vector<std::string>{
            "rules.toml:6:10: accounts.method must be \"GET\" or \"POST\" (got 'PUT')"});
  CHECK(rules_errors(kFolder + "[accounts]\nurls = [\"http://h/x\"]\nsecret = \"nope\"\n")
            .at(0)
            .starts_with("rules.toml:6:10: accounts.secret must be \"whsec_\" followed by base64"));
  CHECK(rules_errors(kFolder + "[accounts]\nurls = [\"http://h/x\"]\nurl = \"x\"\n") ==
        std::vector<std::string>{
            "rules.toml:6:1: unknown key 'url' in [accounts]; did you mean 'urls'?"});
  CHECK(rules_errors("accounts = 3\n" + kFolder) ==
        std::vector<std::string>{"rules.toml:1:12: [accounts] must be a table"});
}
