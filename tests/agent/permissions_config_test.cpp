// `permissions = true` in the agent: the key as `check` sees it (agent/config_folder.cpp), which
// folders a permission change is routed to (agent/router.cpp), and its fields, after the usual
// ones (agent/webhook.cpp).
#include <doctest/doctest.h>

#include "agent/config.h"
#include "agent/router.h"
#include "agent/webhook.h"

using namespace folderhook;
using namespace folderhook::agent;

namespace {

std::optional<Config> permission_config(const std::string& folder_lines,
                                        std::vector<std::string>& errors) {
  std::vector<ConfigError> found;
  auto config = parse_config(
      "[agent]\nstate_dir = \"/var/lib/fh\"\n\n[[folder]]\npath = \"/srv/in\"\n"
      "urls = [\"http://127.0.0.1:8787/hook\"]\n" + folder_lines,
      "rules.toml", "/base", found);
  for (const auto& e : found) errors.push_back(e.to_string());
  return config;
}

watch::FileAction chmod_of(const std::string& path) {
  watch::FileAction action;
  action.action = watch::Action::kUpdate;
  action.path = path;
  action.username = "alice";
  action.permission = watch::PermissionChange{0640, "alice", "staff"};
  return action;
}

FolderRule folder(const std::string& path, bool permissions) {
  FolderRule rule;
  rule.path = path;
  for (int a = 0; a <= static_cast<int>(watch::Action::kCopy); ++a) {
    rule.actions.insert(static_cast<watch::Action>(a));
  }
  rule.permissions = permissions;
  return rule;
}

}  // namespace

TEST_CASE("permissions is true or false, and types takes permission only beside it") {
  std::vector<std::string> errors;
  auto config = permission_config("permissions = true\ntypes = [\"file\", \"permission\"]\n", errors);
  REQUIRE(errors.empty());
  CHECK(config->folders[0].permissions);
  CHECK(config->folders[0].types_permission);
  CHECK_FALSE(permission_config("", errors)->folders[0].permissions);

  errors.clear();
  permission_config("permissions = \"yes\"\n", errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind("rules.toml:7:", 0) == 0);
  CHECK(errors[0].find("folder.permissions must be true or false") != std::string::npos);
  errors.clear();
  permission_config("types = [\"permission\"]\n", errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("folder.types: 'permission' needs permissions = true") != std::string::npos);
}

TEST_CASE("a permission change goes only to folders that ask, and types must name it") {
  const std::vector<FolderRule> rules = {folder("/srv", false), folder("/srv/in", true)};
  const auto routed = route(rules, chmod_of("/srv/in/a"));
  REQUIRE(routed.size() == 1);
  CHECK(routed[0]->path == "/srv/in");

  FolderRule files_only = folder("/srv/in", true);
  files_only.types = {watch::ObjectType::kFile};
  CHECK(route({files_only}, chmod_of("/srv/in/a")).empty());
  files_only.types_permission = true;
  CHECK(route({files_only}, chmod_of("/srv/in/a")).size() == 1);

  // types = ["permission"] alone: the other operations are left out.
  FolderRule permission_only = folder("/srv/in", true);
  permission_only.types_permission = true;
  watch::FileAction write = chmod_of("/srv/in/a");
  write.permission.reset();
  CHECK(route({permission_only}, write).empty());
  CHECK(route({permission_only}, chmod_of("/srv/in/a")).size() == 1);
}

TEST_CASE("a permission change is type permission with mode, owner and group after the rest") {
  const FolderRule rule = folder("/srv/in", true);
  const std::string query = webhook_query(chmod_of("/srv/in/a b"), rule);
  const std::string tail = "&username=alice&type=permission&mode=0640&owner=alice&group=staff";
  REQUIRE(query.size() > tail.size());
  CHECK(query.substr(query.size() - tail.size()) == tail);
  CHECK(query.rfind("action=update&interface=web&path=%2Fsrv%2Fin%2Fa%20b&at=", 0) == 0);

  const auto json = webhook_json(chmod_of("/srv/in/a"), rule);
  CHECK(json["type"] == "permission");
  CHECK(json["mode"] == "0640");
  CHECK(json["group"] == "staff");

  watch::FileAction plain = chmod_of("/srv/in/a");
  plain.permission.reset();
  CHECK(webhook_query(plain, rule).find("mode=") == std::string::npos);
}
