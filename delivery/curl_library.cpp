#include "delivery/curl_library.h"

#include <dlfcn.h>

#include <mutex>

namespace folderhook::delivery {
namespace {

template <typename F>
bool bind(void* handle, const char* name, F& out, std::string& error) {
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) {
    error = std::string("libcurl lacks ") + name;
    return false;
  }
  out = reinterpret_cast<F>(symbol);
  return true;
}

struct Loaded {
  CurlLibrary library{};
  std::string error;
  bool ok = false;
};

Loaded load() {
  Loaded out;
  // The soname of libcurl's ABI 4 (every libcurl since 7.16); Debian's libcurl4 package.
  void* handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    out.error = std::string("cannot load libcurl (needed to send email): ") +
                (why != nullptr ? why : "unknown error");
    return out;
  }
  CurlLibrary& l = out.library;
  out.ok = bind(handle, "curl_global_init", l.global_init, out.error) &&
           bind(handle, "curl_easy_init", l.easy_init, out.error) &&
           bind(handle, "curl_easy_setopt", l.easy_setopt, out.error) &&
           bind(handle, "curl_easy_perform", l.easy_perform, out.error) &&
           bind(handle, "curl_easy_cleanup", l.easy_cleanup, out.error) &&
           bind(handle, "curl_easy_strerror", l.easy_strerror, out.error) &&
           bind(handle, "curl_slist_append", l.slist_append, out.error) &&
           bind(handle, "curl_slist_free_all", l.slist_free_all, out.error);
  if (out.ok && l.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    out.ok = false;
    out.error = "curl_global_init failed";
  }
  return out;
}

}  // namespace

const CurlLibrary* curl_library(std::string& error) {
  static std::once_flag once;
  static Loaded loaded;
  std::call_once(once, [] { loaded = load(); });
  if (!loaded.ok) {
    error = loaded.error;
    return nullptr;
  }
  return &loaded.library;
}

}  // namespace folderhook::delivery
