// One read of the stored index, handed from delivery's writer thread to a scan's worker: the
// dispatcher answers (Dispatcher::read_index) once everything submitted before the read is
// committed, and the scan's worker waits for that answer (watch::CatchUpOptions::read_index).
// Nothing of the index stays in memory once the scan is done with it.
#pragma once

#include "delivery/dispatcher.h"
#include "watch/watcher.h"

namespace folderhook::agent {

struct IndexReadHandoff {
  delivery::Dispatcher::IndexRead answer;     // writer thread: called once
  watch::CatchUpOptions::IndexReader reader;  // worker thread: waits for the answer
};

IndexReadHandoff make_index_read();

}  // namespace folderhook::agent
