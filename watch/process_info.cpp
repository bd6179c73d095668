#include "watch/process_info.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

namespace folderhook::watch {
namespace {

std::string_view field(std::string_view text, std::string_view key) {
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.size() > key.size() && line.substr(0, key.size()) == key &&
        line[key.size()] == ':') {
      line.remove_prefix(key.size() + 1);
      while (!line.empty() && (line.front() == '\t' || line.front() == ' ')) line.remove_prefix(1);
      return line;
    }
    at = end + 1;
  }
  return {};
}

template <typename T>
std::optional<T> number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  return value;
}

std::string read_small_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string text(4096, '\0');
  std::size_t size = 0;
  for (;;) {
    const ssize_t n = ::read(fd, text.data() + size, text.size() - size);
    if (n <= 0) break;
    size += static_cast<std::size_t>(n);
    if (size == text.size()) text.resize(text.size() * 2);
  }
  ::close(fd);
  text.resize(size);
  return text;
}

}  // namespace

std::optional<ProcessInfo> parse_proc_status(std::string_view text) {
  const std::string_view name = field(text, "Name");
  const auto ppid = number<int>(field(text, "PPid"));
  const auto uid = number<uid_t>(field(text, "Uid"));  // real, effective, saved, fs: the first
  if (name.empty() || !ppid || !uid) return std::nullopt;
  return ProcessInfo{std::string(name), "", *ppid, *uid};
}

std::string match_interface(const std::vector<ProcessInfo>& chain, const InterfaceMap& map) {
  for (const ProcessInfo& process : chain) {
    for (const auto& [interface, names] : map) {
      const bool match = std::any_of(names.begin(), names.end(), [&](const std::string& name) {
        return name == process.comm || (!process.exe.empty() && name == process.exe);
      });
      if (match) return interface;
    }
  }
  return {};
}

ActorResolver::ActorResolver(InterfaceMap map, std::function<std::string(uid_t)> user_name,
                             std::string proc)
    : map_(std::move(map)), user_name_(std::move(user_name)), proc_(std::move(proc)) {}

std::optional<ProcessInfo> ActorResolver::read_process(int pid) {
  ++proc_reads_;
  const std::string dir = proc_ + "/" + std::to_string(pid);
  auto info = parse_proc_status(read_small_file(dir + "/status"));
  if (!info) return std::nullopt;
  char target[4096];
  const ssize_t n = ::readlink((dir + "/exe").c_str(), target, sizeof target);
  if (n > 0) {
    std::string_view exe(target, static_cast<std::size_t>(n));
    if (exe.size() > 10 && exe.substr(exe.size() - 10) == " (deleted)") exe.remove_suffix(10);
    info->exe = std::string(exe.substr(exe.rfind('/') + 1));
  }
  return info;
}

Actor ActorResolver::resolve(int pid, bool& gone) {
  gone = false;
  if (auto it = batch_.find(pid); it != batch_.end()) return it->second;
  const auto now = std::chrono::steady_clock::now();
  const auto self = read_process(pid);
  const auto seen = recent_.find(pid);
  Actor actor{pid, "", ""};
  if (!self) {
    if (seen != recent_.end() && now - seen->second.at < kRemember) {
      actor = seen->second.actor;
    } else {
      gone = true;
      actor.gone = true;  // cached with it: the batch's later events are the gone process's too
    }
  } else if (seen != recent_.end() && now - seen->second.at < kParentsFresh &&
             seen->second.self.comm == self->comm && seen->second.self.exe == self->exe &&
             seen->second.self.ppid == self->ppid && seen->second.self.uid == self->uid) {
    // The same program, user and parent as a moment ago: its chain names the same interface.
    actor = seen->second.actor;
  } else {
    std::vector<ProcessInfo> chain{*self};
    for (int parent = self->ppid; parent > 1 && chain.size() <= kMaxParents;) {
      const auto info = read_process(parent);
      if (!info) break;
      chain.push_back(*info);
      parent = info->ppid;
    }
    actor.username = user_name_(chain.front().uid);
    actor.interface = match_interface(chain, map_);
    recent_[pid] = Seen{*self, actor, now};
  }
  batch_[pid] = actor;
  return actor;
}

void ActorResolver::new_batch(std::chrono::steady_clock::time_point now) {
  if (now - batch_start_ < kReuse) return;
  batch_.clear();
  batch_start_ = now;
  std::erase_if(recent_, [&](const auto& r) { return now - r.second.at >= kRemember; });
}

}  // namespace folderhook::watch
