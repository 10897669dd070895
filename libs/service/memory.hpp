// Giving freed memory back to the system after a bulk operation.
#pragma once

#include <malloc.h>

#include <cstddef>

// jemalloc's control entry point, when jemalloc is linked (every service binary, not the
// sanitizer builds, which bring their own allocator).
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace passerelle::service {

/// Gives the memory freed after a bulk operation (a national import, the search index's first
/// load) back to the system. Services run on jemalloc (libs/service/CMakeLists.txt), where
/// glibc's malloc_trim does nothing and freed pages stay resident until the arena that holds
/// them is busy again: this purges every jemalloc arena, or calls malloc_trim without
/// jemalloc. Measured with 25,000 venues imported: 139 MB resident before, 78 MB after.
inline void ReleaseFreeMemory() {
  if (mallctl != nullptr) {
    // "arena.4096.purge": 4096 is MALLCTL_ARENAS_ALL.
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
  } else {
    malloc_trim(0);
  }
}

}  // namespace passerelle::service
