// Who is behind a pid: the real uid and the process names that map to an interface. The
// parsing and matching are pure; ActorResolver reads /proc. Loop thread only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "watch/actor.h"

namespace folderhook::watch {

// interface -> process names, in the order they are matched.
using InterfaceMap = std::vector<std::pair<std::string, std::vector<std::string>>>;

struct ProcessInfo {
  std::string comm;  // /proc/PID/status Name (the kernel's comm, at most 15 bytes)
  std::string exe;   // basename of /proc/PID/exe; "" when unreadable
  int ppid = 0;
  uid_t uid = 0;     // real uid
};

// Name, PPid and the real Uid from the text of /proc/PID/status; nullopt when one is missing.
std::optional<ProcessInfo> parse_proc_status(std::string_view text);

// The interface of the first process of `chain` (the actor, then its parents) whose comm or
// executable name is listed in `map`; "" when none is.
std::string match_interface(const std::vector<ProcessInfo>& chain, const InterfaceMap& map);

class ActorResolver {
 public:
  // Parents looked at beyond the actor: servers that fork a process per session, and the
  // programs such a session runs (a CGI script under apache2).
  static constexpr int kMaxParents = 4;
  // A pid looked up this recently still names the same process when it is gone by now.
  static constexpr std::chrono::seconds kRemember{10};
  // A process whose own status (name, executable, parent, uid) is unchanged since a lookup at
  // most this old keeps the interface its parents gave it: a burst from one process reads its
  // own /proc entry once per batch rather than its whole chain (up to kMaxParents + 1).
  static constexpr std::chrono::seconds kParentsFresh{1};

  ActorResolver(InterfaceMap map, std::function<std::string(uid_t)> user_name,
                std::string proc = "/proc");

  // The actor behind `pid`, looked up now (once per batch). `gone` is set when the process no
  // longer exists and was not seen recently (the first lookup in a batch): the actor then has no
  // username or interface, and Actor::gone set (also when taken from the batch after).
  Actor resolve(int pid, bool& gone);
  // Events of a later read() look the process up again (a pid may exec another program or
  // change its uid), once the lookups in use are kReuse old. A burst that the agent keeps up
  // with is read a few events per read(): reading /proc/PID/status each time was a fifth of the
  // loop's CPU on ext4. An exec or setuid is seen at most kReuse late.
  static constexpr std::chrono::milliseconds kReuse{10};
  void new_batch(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  // /proc/PID entries read so far (status and exe count as one): what a lookup costs.
  std::size_t proc_reads() const { return proc_reads_; }

 private:
  std::optional<ProcessInfo> read_process(int pid);

  struct Seen {
    ProcessInfo self;  // the actor's own entry when its chain was read
    Actor actor;
    std::chrono::steady_clock::time_point at;
  };

  InterfaceMap map_;
  std::function<std::string(uid_t)> user_name_;
  std::string proc_;
  std::map<int, Actor> batch_;
  std::chrono::steady_clock::time_point batch_start_{};  // when batch_ was emptied
  std::map<int, Seen> recent_;
  std::size_t proc_reads_ = 0;
};

}  // namespace folderhook::watch
