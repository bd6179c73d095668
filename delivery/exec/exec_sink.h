// The exec sink (sink.h): exec: URLs (exec_url.h). Each request runs the program once
// (program_run.h) with the fields in FOLDERHOOK_ variables and the JSON object of the fields
// (payload.h) and a newline on its stdin. Exit status 0 is accepted; any other status, a
// signal, a program still running after SinkOptions::timeout (killed with its process group),
// or a program that cannot be started is a failed attempt, retried on the schedule, with its
// stderr (first 2 KB, one line) in the error. A stored delivery without fields (written before
// version 3 of the outbox's encoding) is rejected: replay it.
//
// At most SinkOptions::connections programs of one URL run at once for one folder
// (Request::rule), counted over every sink of the process (a lane's first-attempt and retry
// threads each have their own sink). A batch runs one program after the other, in order; a
// request whose program could not start within `timeout` of the call's start (the earlier ones
// took that long, or all slots stayed taken) is failed without running, so that a call returns
// within about twice the timeout.
#pragma once

#include <memory>

#include "delivery/sink.h"

namespace folderhook::delivery {

std::unique_ptr<Sink> make_exec_sink(const SinkOptions& options);

}  // namespace folderhook::delivery
