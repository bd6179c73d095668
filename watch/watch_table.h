// WatchTable: what the ActionBuilder knows about the watched trees, path by path, in one
// compact tree of path components: which directories are watched (the two-way map between
// inotify watch descriptors and directory paths) and which objects are known to exist, with
// their kind and owner. Pure bookkeeping, no system calls: the caller adds and removes the
// kernel watches.
//
// Paths are absolute. Each node is one component (its name, its parent, its siblings), found
// from its parent by an open-addressing hash of (parent, name), so a large tree costs one node
// of ~64 bytes per object plus a few bytes of hash slots, not a full path string per map. A move
// is a re-link of one node, and a path is spelled out when asked.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "watch/file_system.h"
#include "watch/paths.h"

namespace folderhook::watch {

// An open-addressing set of node ids with linear probing, hashed by what each node holds (the
// caller's hash_of(id)): four bytes a slot instead of a heap node per member.
class IdSet {
 public:
  static constexpr uint32_t kEmpty = UINT32_MAX;

  // The member for which eq(id) holds among those with this hash; kEmpty when none.
  template <typename Eq>
  uint32_t find(std::size_t hash, Eq&& eq) const {
    if (slots_.empty()) return kEmpty;
    for (std::size_t i = hash & mask();; i = (i + 1) & mask()) {
      const uint32_t id = slots_[i];
      if (id == kEmpty || eq(id)) return id;
    }
  }
  template <typename HashOf>
  void insert(uint32_t id, HashOf&& hash_of) {
    if ((used_ + 1) * 4 > slots_.size() * 3) grow(hash_of);
    std::size_t i = hash_of(id) & mask();
    while (slots_[i] != kEmpty) i = (i + 1) & mask();
    slots_[i] = id;
    ++used_;
  }
  // hash_of(id) must still give the hash `id` was inserted with.
  template <typename HashOf>
  void erase(uint32_t id, HashOf&& hash_of) {
    if (slots_.empty()) return;
    std::size_t hole = hash_of(id) & mask();
    while (slots_[hole] != id) {
      if (slots_[hole] == kEmpty) return;
      hole = (hole + 1) & mask();
    }
    // Backward shift: a later member of the run moves into the hole when the hole lies
    // between its home slot and where it is, so that no probe meets a gap before it.
    for (std::size_t j = (hole + 1) & mask(); slots_[j] != kEmpty; j = (j + 1) & mask()) {
      const std::size_t home = hash_of(slots_[j]) & mask();
      if (((j - home) & mask()) >= ((j - hole) & mask())) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = kEmpty;
    --used_;
  }
  std::size_t size() const { return used_; }

 private:
  std::size_t mask() const { return slots_.size() - 1; }
  template <typename HashOf>
  void grow(HashOf&& hash_of) {
    std::vector<uint32_t> old(slots_.empty() ? 16 : slots_.size() * 2, kEmpty);
    old.swap(slots_);
    used_ = 0;
    for (const uint32_t id : old) {
      if (id != kEmpty) insert(id, hash_of);
    }
  }

  std::vector<uint32_t> slots_;  // a power of two in size, at most 3/4 used
  std::size_t used_ = 0;
};

class WatchTable {
 public:
  // An object known to exist (and to the receiver).
  struct Known {
    Known() = default;
    Known(FileKind k, uid_t owner, bool from_index = false, uint32_t inode = 0)
        : uid(owner), ino(inode), kind(k), indexed(from_index) {}
    // What a stat (or a listing) says of it.
    static Known of(const FileInfo& info, bool from_index = false) {
      return Known(info.kind, info.uid, from_index, static_cast<uint32_t>(info.ino));
    }
    uid_t uid = 0;
    // The low 32 bits of its inode number (0: unknown), to recognise the old name of a hard
    // link when it is unlinked (link + unlink is a rename). 32 bits keep a node at 64 bytes;
    // ext4's inode numbers fit, and elsewhere a match is only ever looked for between a name
    // just linked and a name just unlinked.
    uint32_t ino = 0;
    FileKind kind = FileKind::kRegular;
    // Found by the background index (fanotify) and never reported: a CREATE for it is a
    // genuine create, since the filesystem mark predates the listing.
    bool indexed = false;
  };

  WatchTable();

  // A handle to a node. It stays valid until something is forgotten or a watch removed
  // (either may free nodes); kNoRef: no such node.
  using Ref = uint32_t;
  static constexpr Ref kNoRef = UINT32_MAX;

  // Watches.
  // Records that `wd` watches `dir`. The kernel returns the same wd for the same inode, so a
  // second add of one wd replaces its path; a wd already at `dir` is forgotten. Returns the
  // node of `dir`.
  Ref add(int wd, const std::string& dir);
  void remove(int wd);
  std::optional<std::string> path_of(int wd) const;
  std::optional<int> wd_of(const std::string& dir) const;
  // The wds at or beneath `dir`, each before the wds of the directories above it.
  std::vector<int> watches_within(const std::string& dir) const;
  std::size_t size() const { return wd_index_.size(); }

  // Known objects.
  // Pointers stay valid until that object is forgotten.
  const Known* known(std::string_view path) const;
  Known* known(std::string_view path);
  bool is_known(std::string_view path) const { return known(path) != nullptr; }
  // Records `path` as known, replacing what was known there.
  Known& set_known(std::string_view path, Known what);
  // The known object at `path`, recording `what` there first when nothing is.
  Known& known_or(std::string_view path, Known what);
  void forget(std::string_view path);
  // The known paths at or beneath `dir`, sorted (a parent before its children).
  std::vector<std::string> known_within(std::string_view dir) const;
  // Forgets every known object at or beneath `dir` for which drop(path, known) holds.
  template <typename Drop>
  void forget_within(std::string_view dir, Drop&& drop) {
    for (const std::string& path : known_within(dir)) {
      if (drop(path, *known(path))) forget(path);
    }
  }
  std::size_t known_count() const { return known_count_; }

  // The listing of one directory asks about each of its entries: a handle to the directory's
  // node (a Ref, above) saves walking its path from the root every time.
  Ref ref(std::string_view path) const { return find(path); }
  bool watched(Ref dir) const { return nodes_[dir].wd >= 0; }
  // `name` is one component: the same as known(dir + "/" + name) and set_known(...).
  bool child_known(Ref dir, std::string_view name) const;
  void set_known_child(Ref dir, std::string_view name, Known what);

  // Both: a directory moved, and every watch and known object at or beneath `from` now lives
  // beneath `to`; the wds stay. What was at `to` is replaced.
  void rebase(const std::string& from, const std::string& to);

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr uint32_t kRoot = 0;  // "/"
  struct Node {
    std::string name;
    uint32_t parent = kNone;
    uint32_t first_child = kNone;
    uint32_t next = kNone;  // siblings, in no particular order
    uint32_t prev = kNone;
    int wd = -1;  // -1: not watched
    // is_known sits in the tail padding of `known`: a node stays at 64 bytes.
    [[no_unique_address]] Known known;
    bool is_known = false;
  };
  static_assert(sizeof(Node) <= 64, "one node per object: keep the tree's memory as measured");

  // The node of `path`; kNone when absent. `create` makes the missing nodes on the way.
  uint32_t find(std::string_view path) const;
  uint32_t find_or_create(std::string_view path);
  uint32_t child(uint32_t parent, std::string_view name) const;
  uint32_t child_or_create(uint32_t parent, std::string_view name);
  // The known object of node `id`, recording `what` there first when nothing is.
  Known& known_at(uint32_t id, Known what);
  uint32_t new_node(uint32_t parent, std::string_view name);
  void link(uint32_t node, uint32_t parent);
  void unlink(uint32_t node);
  // Frees `node` and its ancestors while they hold no watch, no known object and no children.
  void prune(uint32_t node);
  std::string spell(uint32_t node) const;
  uint32_t node_of_wd(int wd) const;
  // Post-order: every node beneath `node`, then `node`.
  template <typename Fn>
  void for_each_below(uint32_t node, Fn&& fn) const;
  std::size_t child_hash(uint32_t id) const;
  std::size_t wd_hash(uint32_t id) const { return hash_of_wd(nodes_[id].wd); }
  static std::size_t hash_of_wd(int wd);

  // Nodes in chunks of 4,096 (256 KiB, their own mappings): growing never moves a node, and
  // the short-lived allocations of a walk do not interleave with them, so freeing those can
  // give whole pages back.
  class NodeStore {
   public:
    Node& operator[](uint32_t i) { return chunks_[i >> kShift][i & kMask]; }
    const Node& operator[](uint32_t i) const { return chunks_[i >> kShift][i & kMask]; }
    std::size_t size() const { return size_; }
    void emplace_back() {
      if ((size_ & kMask) == 0) chunks_.push_back(std::make_unique<Node[]>(kMask + 1));
      ++size_;
    }

   private:
    static constexpr uint32_t kShift = 12;
    static constexpr uint32_t kMask = (1u << kShift) - 1;
    std::vector<std::unique_ptr<Node[]>> chunks_;
    std::size_t size_ = 0;
  };

  NodeStore nodes_;
  std::vector<uint32_t> free_;
  IdSet children_;  // every linked node but the root, by (parent, name)
  IdSet wd_index_;  // every watched node, by wd
  std::size_t known_count_ = 0;
};

}  // namespace folderhook::watch
