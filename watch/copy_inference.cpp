// CopyInference: the facts a copy is recognised by, and the decision (copy_inference.h).
#include "watch/copy_inference.h"

#include <algorithm>
#include <set>

#include "watch/paths.h"

namespace folderhook::watch {

CopyInference::CopyInference(bool own_reads_reported, std::chrono::steady_clock::duration history)
    : own_reads_reported_(own_reads_reported), history_(history) {}

CopyInference::SelfRead* CopyInference::own_read(const std::string& path) {
  const auto it = self_reads_.find(path);
  if (it == self_reads_.end() || markers_read_ < it->second.after_marker) return nullptr;
  return &it->second;
}

bool CopyInference::own_open(const std::string& path) {
  SelfRead* self = own_read(path);
  if (self == nullptr || self->opens <= 0) return false;
  --self->opens;
  return true;
}

bool CopyInference::own_close(const std::string& path) {
  SelfRead* self = own_read(path);
  if (self == nullptr || self->closes <= 0) return false;
  --self->closes;
  return true;
}

bool CopyInference::read_closed(const std::string& path, uint64_t seq, SteadyTime now, int pid) {
  read_closes_.push_back({seq, path, now, pid});
  const auto source = copy_sources_.find(path);
  if (source == copy_sources_.end()) return false;
  copy_sources_.erase(source);  // reported as the source of a copy
  return true;
}

std::vector<std::string> CopyInference::candidates(const Copy& copy, const OpenCounts& open) const {
  std::vector<std::string> out;
  const auto add = [&](const std::string& path) {
    if (path != copy.path && std::find(out.begin(), out.end(), path) == out.end()) {
      out.push_back(path);
    }
  };
  if (copy.writer_pid != 0) {
    for (auto it = read_closes_.rbegin(); it != read_closes_.rend(); ++it) {
      if (it->pid == copy.writer_pid) add(it->path);
    }
  }
  std::set<std::string> overlapping;
  for (const auto& [path, count] : open) {
    if (count > 0) overlapping.insert(path);
  }
  for (const ReadClose& close : read_closes_) {
    if (close.seq > copy.first_seq) overlapping.insert(close.path);
  }
  for (const std::string& path : overlapping) add(path);
  return out;
}

std::optional<std::string> CopyInference::find_source(const Copy& copy, const OpenCounts& open,
                                                      Probe& probe, SteadyTime now) {
  std::optional<uint64_t> copy_hash;
  for (const std::string& source : candidates(copy, open)) {
    const auto size = probe.source_size(source);
    if (!size || *size != copy.size) continue;
    // Equal sizes prove nothing: compare the bytes.
    if (!copy_hash) copy_hash = hash_own_read(copy.path, probe, now);
    if (!copy_hash) return std::nullopt;
    const auto source_hash = hash_own_read(source, probe, now);
    if (!source_hash || *source_hash != *copy_hash) continue;
    if (open.count(source)) copy_sources_[source] = now + kSelfReadExpiry;
    return source;
  }
  return std::nullopt;
}

bool CopyInference::source_still_open(const std::string& dest, uint64_t size,
                                      const OpenCounts& open, Probe& probe) {
  for (const auto& [path, count] : open) {
    if (count <= 0 || path == dest) continue;
    if (probe.source_size(path) == size) return true;
  }
  return false;
}

std::optional<CopyInference::SteadyTime> CopyInference::read_waits_until(
    const HeldRead& read, const std::map<std::string, PendingWrite>& writes, SteadyTime now,
    std::chrono::steady_clock::duration settle) {
  const SteadyTime give_up = read.deadline + 10 * settle;
  if (now >= give_up) return std::nullopt;
  std::optional<SteadyTime> recheck;
  for (const auto& [path, write] : writes) {
    const bool same_process = read.pid != 0 && write.actor.pid == read.pid;
    if (!write.is_new || !(write.first_seq < read.seq || same_process)) continue;
    if (!write.deadline && !same_process) continue;  // named at its close, a window later
    const SteadyTime at = write.deadline.value_or(now + settle);
    if (!recheck || at < *recheck) recheck = at;
  }
  if (!recheck) return std::nullopt;
  const SteadyTime soonest = now + std::chrono::milliseconds(1);  // not in this tick
  return std::min(std::max(*recheck, soonest), give_up);
}

std::optional<uint64_t> CopyInference::hash_own_read(const std::string& path, Probe& probe,
                                                     SteadyTime now) {
  if (!own_reads_reported_) return probe.hash(path);
  // Our read reaches us as OPEN and CLOSE_NOWRITE records later: they are not a read. Records
  // already queued are read first, among them perhaps a reader's OPEN and CLOSE of this very
  // file: the marker tells where ours can begin.
  const uint64_t marker = probe.put_marker();
  const auto hash = probe.hash(path);
  if (hash) {
    SelfRead& self = self_reads_[path];
    if (self.opens == 0 && self.closes == 0) self.after_marker = marker;
    ++self.opens;
    ++self.closes;
    self.expires = now + kSelfReadExpiry;
  }
  return hash;
}

void CopyInference::rebase(const std::string& from, const std::string& to) {
  rebase_keys(self_reads_, from, to);
  rebase_keys(copy_sources_, from, to);
}

void CopyInference::trim(SteadyTime now) {
  while (!read_closes_.empty() && read_closes_.front().when + history_ < now) {
    read_closes_.pop_front();
  }
  std::erase_if(self_reads_, [&](const auto& s) { return s.second.expires < now; });
  std::erase_if(copy_sources_, [&](const auto& s) { return s.second < now; });
}

}  // namespace folderhook::watch
