// PendingNames: the pending writes and reads, their deadline queues, and temp names.
#include "watch/pending_names.h"

#include <algorithm>
#include <string_view>

#include "watch/glob.h"
#include "watch/paths.h"
#include "watch/watcher.h"

namespace folderhook::watch {

namespace {

std::optional<PendingNames::SteadyTime> deadline_of(const PendingWrite& write) {
  return write.deadline;
}
std::optional<PendingNames::SteadyTime> deadline_of(const PendingRead& read) { return read.due; }

// The item of `path` in `map`, or nullptr.
template <typename Map>
auto* item_of(Map& map, const std::string& path) {
  const auto it = map.find(path);
  return it == map.end() ? nullptr : &it->second;
}

// Takes the item of `path` out of `map`.
template <typename Map>
std::optional<typename Map::mapped_type> take_from(Map& map, const std::string& path) {
  auto node = map.extract(path);
  if (node.empty()) return std::nullopt;
  return std::move(node.mapped());
}

// Whether the front entry of `queue` is live: its item is still in `map` with that deadline.
template <typename Queue, typename Map>
bool front_is_live(const Queue& queue, const Map& map) {
  const auto item = map.find(queue.top().second);
  return item != map.end() && deadline_of(item->second) == queue.top().first;
}

// Pops `queue` up to its first live entry due by `now`: that entry's path, or nullopt.
template <typename Queue, typename Map>
std::optional<std::string> pop_due(Queue& queue, const Map& map, PendingNames::SteadyTime now) {
  while (!queue.empty() && queue.top().first <= now) {
    const bool live = front_is_live(queue, map);
    std::string path = queue.top().second;
    queue.pop();
    if (live) return path;
  }
  return std::nullopt;
}

// Drops the stale entries at the front of `queue`: the deadline of its first live one, or nullopt.
template <typename Queue, typename Map>
std::optional<PendingNames::SteadyTime> live_front(Queue& queue, const Map& map) {
  while (!queue.empty() && !front_is_live(queue, map)) queue.pop();
  if (queue.empty()) return std::nullopt;
  return queue.top().first;
}

}  // namespace

bool is_temp_name(const std::string& path, const std::vector<RootOptions>& roots) {
  // temp_patterns come from the deepest root that contains the path.
  const RootOptions* deepest = nullptr;
  for (const RootOptions& root : roots) {
    if (path_is_within(path, root.path) &&
        (deepest == nullptr || root.path.size() > deepest->path.size())) {
      deepest = &root;
    }
  }
  if (deepest == nullptr) return false;
  const std::string_view name = std::string_view(path).substr(path.rfind('/') + 1);
  return std::any_of(deepest->temp_patterns.begin(), deepest->temp_patterns.end(),
                     [&](const std::string& pattern) { return glob_match(pattern, name); });
}

PendingWrite* PendingNames::write(const std::string& path) { return item_of(writes_, path); }

const PendingWrite* PendingNames::write(const std::string& path) const {
  return item_of(writes_, path);
}

PendingWrite& PendingNames::put_write(const std::string& path, PendingWrite write) {
  return writes_[path] = std::move(write);
}

std::optional<PendingWrite> PendingNames::take_write(const std::string& path) {
  return take_from(writes_, path);
}

void PendingNames::schedule_write(const std::string& path, PendingWrite& write,
                                  SteadyTime deadline) {
  write.deadline = deadline;
  write_due_.emplace(deadline, path);
}

std::vector<std::string> PendingNames::awaiting_source() const {
  std::vector<std::string> waiting;
  for (const auto& [path, write] : writes_) {
    if (write.awaits_source) waiting.push_back(path);
  }
  return waiting;
}

void PendingNames::settle_unclosed(SteadyTime deadline) {
  for (auto& [path, write] : writes_) {
    if (!write.deadline && !write.temp) {
      write.from_scan = true;
      schedule_write(path, write, deadline);
    }
  }
}

PendingRead* PendingNames::read(const std::string& path) { return item_of(reads_, path); }

const PendingRead* PendingNames::read(const std::string& path) const {
  return item_of(reads_, path);
}

void PendingNames::hold_read(const std::string& path, PendingRead read) {
  PendingRead& held = reads_[path] = std::move(read);
  schedule_read(path, held, held.deadline);
}

std::optional<PendingRead> PendingNames::take_read(const std::string& path) {
  return take_from(reads_, path);
}

void PendingNames::schedule_read(const std::string& path, PendingRead& read, SteadyTime due) {
  read.due = due;
  read_due_.emplace(due, path);
}

std::optional<std::string> PendingNames::due_write(SteadyTime now) {
  return pop_due(write_due_, writes_, now);
}

std::optional<std::string> PendingNames::due_read(SteadyTime now) {
  return pop_due(read_due_, reads_, now);
}

std::optional<PendingNames::SteadyTime> PendingNames::next_deadline() const {
  // Stale entries would wake the loop for nothing: they are dropped from the fronts.
  const auto write = live_front(write_due_, writes_);
  const auto read = live_front(read_due_, reads_);
  if (write && read) return std::min(*write, *read);
  return write ? write : read;
}

void PendingNames::rebase(const std::string& from, const std::string& to) {
  rebase_keys(writes_, from, to);
  rebase_keys(reads_, from, to);
  requeue_within(to);  // their deadlines were queued under the old paths
}

void PendingNames::requeue_within(const std::string& dir) {
  for (auto it = writes_.lower_bound(dir); it != writes_.end(); ++it) {
    if (it->first.compare(0, dir.size(), dir) != 0) break;
    if (path_is_within(it->first, dir) && it->second.deadline) {
      write_due_.emplace(*it->second.deadline, it->first);
    }
  }
  for (auto it = reads_.lower_bound(dir); it != reads_.end(); ++it) {
    if (it->first.compare(0, dir.size(), dir) != 0) break;
    if (path_is_within(it->first, dir)) read_due_.emplace(it->second.due, it->first);
  }
}

std::vector<std::string> PendingNames::writes_within(const std::string& dir) const {
  return keys_within(writes_, dir);
}

std::vector<std::string> PendingNames::reads_within(const std::string& dir) const {
  return keys_within(reads_, dir);
}

bool PendingNames::may_hold_link() {
  // Nothing created without an OPEN since the last look: the common delete costs nothing.
  if (!unopened_creates_) return false;
  if (std::none_of(writes_.begin(), writes_.end(),
                   [](const auto& w) { return may_be_link(w.second); })) {
    unopened_creates_ = false;
    return false;
  }
  return true;
}

std::optional<std::string> PendingNames::find_link(
    const std::string& unlinked, uint32_t ino,
    const std::function<uint32_t(const std::string&)>& ino_of) {
  for (auto& [name, write] : writes_) {
    if (!may_be_link(write) || name == unlinked) continue;
    if (!write.link_ino) write.link_ino = ino_of(name);
    if (*write.link_ino == ino) return name;
  }
  return std::nullopt;
}

}  // namespace folderhook::watch
