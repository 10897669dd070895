// A few threads for the blocking work (store reads) that callback methods hand off: gRPC's
// callback threads must not wait on PostgreSQL, or one slow read stalls every call they serve.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace passerelle::venues {

class WorkQueue {
 public:
  /// `threads` workers; at most `max_waiting` jobs wait for one (Post refuses more).
  WorkQueue(int threads, size_t max_waiting);
  /// Runs the jobs still waiting, then joins the workers.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  /// Queues `job`; false (nothing queued) when `max_waiting` jobs already wait.
  bool Post(std::function<void()> job);

 private:
  void Work();

  const size_t max_waiting_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace passerelle::venues
