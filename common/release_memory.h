// Gives the heap's free pages back to the system, after a large structure that is built once
// (a first index, a whole folder's catch-up) has been freed.
#pragma once

#include <malloc.h>

#include <cstddef>

// jemalloc's control entry point, when the binary is linked with jemalloc (agent/CMakeLists.txt):
// a weak reference, null otherwise (the sanitizer build, glibc's malloc).
extern "C" int mallctl(const char* name, void* old_value, size_t* old_size, void* new_value,
                       size_t new_size) __attribute__((weak));

namespace folderhook {

inline void release_free_memory() {
  if (mallctl != nullptr) {
    // Every arena's unused dirty pages ("arena.<MALLCTL_ARENAS_ALL>.purge", 4096): without it
    // jemalloc hands them back over its decay time, about ten seconds.
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
    return;
  }
  malloc_trim(0);
}

}  // namespace folderhook
