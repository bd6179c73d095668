// Uploads: with `file_field`, a POST carries the file's bytes as a multipart/form-data part.
// Reading the file is I/O, so it runs on a worker (submission_pipeline.h); building
// the body is pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/behaviors.h"
#include "delivery/request.h"
#include "watch/file_action.h"

namespace folderhook::agent {

// The fields in order, as (name, exact bytes).
using FormFields = std::vector<std::pair<std::string, std::string>>;

// multipart/form-data: one part per field, then the file part named `file_field` (with
// `filename`) when `content` is present, or a `file_skipped` part saying why it is not.
std::string multipart_body(const FormFields& fields, std::string_view file_field,
                           std::string_view filename, const std::string* content,
                           std::string_view skipped, std::string_view boundary);

// A boundary that does not occur in `content`.
std::string pick_boundary(std::string_view content);

// Reads the file the action leaves behind (the destination of a move or copy, else the path),
// up to max_bytes, and sets request.body and request.content_type. The file is opened beneath
// `folder` (the outermost watched folder that holds it, beneath.h): no symlink anywhere in its
// path, and it must be the object the action reports (device and inode of action.meta, when
// known). Destroyed files, directories, files that are gone, replaced or reached only through
// a symlink, and files over max_bytes get a `file_skipped` field saying why.
// `ledger` learns of the read before it happens, so that the watcher's report of the agent's
// own read is dropped rather than delivered as a `read`.
void attach_file(delivery::Request& request, const watch::FileAction& action,
                 const FormFields& fields, const std::string& file_field, uint64_t max_bytes,
                 const std::string& folder, RobotLedger& ledger);

}  // namespace folderhook::agent
