#include "fs/cli/file_walk.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "fs/format/volume_config.h"

namespace kmsfs::cli {

StatusOr<std::vector<std::string>> ListBackingFiles(const std::string& backing_dir) {
  namespace stdfs = std::filesystem;
  std::vector<std::string> out;
  std::error_code ec;
  stdfs::recursive_directory_iterator it(backing_dir, stdfs::directory_options::none, ec);
  if (ec) return Status::FromErrno(ec.value(), "list " + backing_dir);
  for (; it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Status::FromErrno(ec.value(), "list " + backing_dir);
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    std::string rel = stdfs::relative(it->path(), backing_dir, ec).string();
    if (rel == format::kConfigFileName) continue;
    out.push_back(std::move(rel));
  }
  std::sort(out.begin(), out.end());
  return out;
}

void RunParallel(const std::vector<std::string>& paths, int threads, const std::string& verb,
                 const std::function<void(const std::string&)>& job) {
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  const size_t total = paths.size();
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  std::atomic<bool> finished{false};

  auto print = [&](bool final_line) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const size_t d = done.load();
    const double rate = secs > 0 ? static_cast<double>(d) / secs : 0;
    const double eta = rate > 0 ? static_cast<double>(total - d) / rate : 0;
    if (tty) {
      const int width = 30;
      const int filled = total ? static_cast<int>(static_cast<double>(width) * static_cast<double>(d) / static_cast<double>(total)) : width;
      std::fprintf(stderr, "\r[%.*s%*s] %zu/%zu files, %.0f files/s, ETA %.0fs   ", filled,
                   "==============================", width - filled, "", d, total, rate, eta);
      if (final_line) std::fputc('\n', stderr);
    } else {
      std::fprintf(stderr, "%s %zu/%zu files (%.0f files/s)\n", verb.c_str(), d, total, rate);
    }
    std::fflush(stderr);
  };

  std::thread progress([&] {
    int ticks = 0;
    while (!finished.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (finished.load()) break;
      // Redraw often on a terminal; a plain line every 5 s in logs.
      if (tty || ++ticks % 25 == 0) print(false);
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < std::max(1, threads); ++t) {
    workers.emplace_back([&] {
      for (size_t i = next.fetch_add(1); i < total; i = next.fetch_add(1)) {
        job(paths[i]);
        done.fetch_add(1);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  finished.store(true);
  progress.join();
  if (total > 0) print(true);
}

}  // namespace kmsfs::cli
