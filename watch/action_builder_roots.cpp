// ActionBuilder: the folder list changing while it runs (a reload of the rules).
#include <algorithm>

#include "watch/action_builder.h"

namespace folderhook::watch {

std::vector<std::string> ActionBuilder::set_roots(std::vector<RootOptions> roots, Timestamp now) {
  const std::vector<std::string> before = top_roots_;
  options_.roots = std::move(roots);
  top_roots_ = top_roots_of(options_.roots);
  const auto within_any = [](const std::string& path, const std::vector<std::string>& tops) {
    return std::any_of(tops.begin(), tops.end(),
                       [&](const std::string& top) { return path_is_within(path, top); });
  };
  for (const std::string& root : before) {
    if (!within_any(root, top_roots_)) forget_root(root);
  }
  std::erase_if(missing_roots_, [&](const std::string& root) {
    return std::find(top_roots_.begin(), top_roots_.end(), root) == top_roots_.end();
  });
  std::vector<std::string> added;
  for (const std::string& root : top_roots_) {
    if (within_any(root, before)) continue;  // watched already, through a root that holds it
    added.push_back(root);
    start_root(root, now);
  }
  set_permission_roots();
  report_watch_failures();
  return added;
}

void ActionBuilder::forget_root(const std::string& root) {
  // Everything beneath `root` except what a remaining root still holds.
  const auto gone = [&](const std::string& path) {
    return path_is_within(path, root) &&
           std::none_of(top_roots_.begin(), top_roots_.end(),
                        [&](const std::string& top) { return path_is_within(path, top); });
  };
  table_.forget_within(root, [&](const std::string& path, const Entry&) { return gone(path); });
  pending_.forget_if(gone);
  std::erase_if(open_counts_, [&](const auto& e) { return gone(e.first); });
  copies_.forget_if(gone);
  for (const PendingMove& move : moves_.forget_if(gone)) {
    order_.fill(move.slot);  // nothing will come of it: what waits behind it may go
  }
  std::erase_if(index_stack_, [&](const std::string& dir) { return gone(dir); });
  for (const int wd : table_.watches_within(root)) {
    const auto path = table_.path_of(wd);
    if (!path || !gone(*path)) continue;
    fs_.remove_watch(wd);
    table_.remove(wd);
  }
}

}  // namespace folderhook::watch
