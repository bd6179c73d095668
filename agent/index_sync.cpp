#include "agent/index_sync.h"

namespace folderhook::agent {

using Kind = delivery::IndexChange::Kind;

watch::Index to_watch_index(std::vector<delivery::IndexRow>&& rows) {
  watch::Index index;
  for (delivery::IndexRow& row : rows) {
    watch::IndexEntry entry;
    entry.type = row.directory ? watch::ObjectType::kDirectory : watch::ObjectType::kFile;
    entry.meta = static_cast<const ObjectMeta&>(row);
    index.emplace_hint(index.end(), std::move(row.path), entry);
  }
  return index;
}

delivery::IndexRow to_row(const std::string& path, const watch::IndexEntry& entry) {
  delivery::IndexRow row;
  row.path = path;
  row.directory = entry.type == watch::ObjectType::kDirectory;
  static_cast<ObjectMeta&>(row) = entry.meta;
  return row;
}

void append_index_changes(const watch::FileAction& action,
                          std::vector<delivery::IndexChange>& out) {
  const watch::IndexEntry entry{action.type, action.meta};
  const auto put = [&](const std::string& path) {
    out.push_back({Kind::kPut, to_row(path, entry), ""});
  };
  const auto erase = [&](const std::string& path) {
    out.push_back({Kind::kErase, to_row(path, {}), ""});
  };
  switch (action.action) {
    case watch::Action::kRead:
      return;
    case watch::Action::kCreate:
    case watch::Action::kUpdate:
      if (action.type == watch::ObjectType::kFile) erase(action.path);  // was a directory
      put(action.path);
      return;
    case watch::Action::kCopy:
      erase(action.destination);
      put(action.destination);
      return;
    case watch::Action::kDestroy:
      erase(action.path);
      return;
    case watch::Action::kMove:
      out.push_back({Kind::kMove, to_row(action.path, {}), action.destination});
      // Without metadata (an operation of a folder behavior), the moved rows keep theirs.
      if (action.meta.ino != 0) put(action.destination);
      return;
  }
}

std::vector<delivery::IndexChange> index_changes(watch::IndexUpdate&& update) {
  // A first start hands over every entry of the tree: one allocation for the rows, and the
  // paths moved rather than copied.
  std::vector<delivery::IndexChange> out;
  out.reserve(update.reset_roots.size() + update.entries.size() + update.recorded.size() +
              update.indexed_roots.size() + update.relist.size());
  for (const std::string& root : update.reset_roots) {
    out.push_back({Kind::kErase, to_row(root, {}), ""});
  }
  for (auto& [path, entry] : update.entries) {
    out.push_back({Kind::kPut, to_row({}, entry), ""});
    out.back().row.path = std::move(path);
  }
  update.recorded.for_each([&](std::string_view path, const watch::IndexEntry& entry) {
    out.push_back({Kind::kPut, to_row({}, entry), ""});
    out.back().row.path = path;
  });
  update.recorded = {};
  for (const std::string& root : update.indexed_roots) {
    out.push_back({Kind::kRootIndexed, to_row(root, {}), ""});
  }
  for (const std::string& dir : update.relist) {
    out.push_back({Kind::kRelist, to_row(dir, {}), ""});
  }
  return out;
}

}  // namespace folderhook::agent
