#include "kms/server/request_framer.h"

#include <cstring>

namespace kmsfs::kms::server {
namespace {

// Longest chunk-size line (size, extensions) kmsd reads.
constexpr size_t kMaxChunkLine = 256;

bool IsTokenChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Field values: visible characters, spaces, tabs and obs-text; no controls.
bool IsFieldValue(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7F) return false;
  }
  return true;
}

// The request target: printable ASCII without spaces (no decoding here).
bool IsTarget(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void RequestFramer::Reset() { *this = RequestFramer(limits_); }

RequestFramer::State RequestFramer::Refuse(int status) {
  state_ = State::kRefused;
  refusal_status_ = status;
  return state_;
}

RequestFramer::State RequestFramer::Complete(size_t end, bool truncated) {
  phase_ = Phase::kDone;
  state_ = State::kComplete;
  request_bytes_ = end;
  body_truncated_ = truncated;
  return state_;
}

RequestFramer::State RequestFramer::Feed(std::string_view bytes) {
  if (state_ != State::kNeedMore) return state_;
  if (!bytes.empty()) started_ = true;

  while (phase_ == Phase::kHead) {
    const bool request_line = !request_line_done_;
    const size_t max_line = request_line ? limits_.max_request_line : limits_.max_header_line;
    const int too_long = request_line ? 414 : 431;
    const void* nl = scanned_ < bytes.size()
                         ? std::memchr(bytes.data() + scanned_, '\n', bytes.size() - scanned_)
                         : nullptr;
    if (nl == nullptr) {
      // The line is not finished: refuse as soon as it cannot fit any more.
      scanned_ = bytes.size();
      if (scanned_ - line_start_ > max_line + 1) return Refuse(too_long);
      if (scanned_ > limits_.max_head_bytes) return Refuse(431);
      return state_;
    }
    const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - bytes.data());
    scanned_ = end + 1;
    if (end == line_start_ || bytes[end - 1] != '\r') return Refuse(400);  // bare LF
    const size_t length = end - 1 - line_start_;
    if (length > max_line) return Refuse(too_long);
    if (scanned_ > limits_.max_head_bytes) return Refuse(431);
    line_start_ = scanned_;
    if (request_line) {
      if (length == 0) return Refuse(400);
      request_line_done_ = true;
    } else if (length == 0) {
      head_bytes_ = scanned_;
      if (ParseHead(bytes.substr(0, head_bytes_)) != State::kNeedMore) return state_;
    } else if (++header_lines_ > limits_.max_header_count) {
      return Refuse(431);
    }
  }
  if (phase_ == Phase::kDone) return state_;
  if (phase_ == Phase::kFixedBody) {
    const uint64_t available = bytes.size() - head_bytes_;
    if (content_length_ > limits_.max_body_bytes) {
      if (available > limits_.max_body_bytes) return Complete(head_bytes_ + limits_.max_body_bytes + 1, true);
      return state_;
    }
    if (available >= content_length_) return Complete(head_bytes_ + content_length_, false);
    return state_;
  }
  return FeedChunked(bytes);
}

RequestFramer::State RequestFramer::ParseHead(std::string_view head) {
  // Request line: METHOD SP TARGET SP HTTP/1.x
  const size_t first_end = head.find("\r\n");
  const std::string_view request_line = head.substr(0, first_end);
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return Refuse(400);
  const std::string_view method = request_line.substr(0, sp1);
  const std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = request_line.substr(sp2 + 1);
  if (!IsToken(method) || !IsTarget(target)) return Refuse(400);
  if (version == "HTTP/1.1") {
    keep_alive_ = true;
  } else if (version == "HTTP/1.0") {
    keep_alive_ = false;
  } else {
    return Refuse(400);
  }

  bool has_length = false;
  bool has_encoding = false;
  size_t pos = first_end + 2;
  while (pos + 2 < head.size()) {  // the last two bytes are the empty line
    const size_t line_end = head.find("\r\n", pos);
    const size_t line_begin = pos;
    const std::string_view line = head.substr(pos, line_end - pos);
    pos = line_end + 2;
    if (line.front() == ' ' || line.front() == '\t') return Refuse(400);  // obsolete line folding
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Refuse(400);
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = Trim(line.substr(colon + 1));
    if (!IsToken(name) || !IsFieldValue(value)) return Refuse(400);
    if (EqualsIgnoreCase(name, "Content-Length")) {
      if (has_length || value.empty() || value.size() > 18) return Refuse(400);
      uint64_t n = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return Refuse(400);
        n = n * 10 + static_cast<uint64_t>(c - '0');
      }
      has_length = true;
      content_length_ = n;
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      // Only "chunked" frames a request body kmsd can find the end of.
      if (has_encoding || !EqualsIgnoreCase(value, "chunked")) return Refuse(400);
      has_encoding = true;
    } else if (EqualsIgnoreCase(name, "Connection")) {
      std::string_view rest = value;
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string_view option = Trim(rest.substr(0, comma));
        if (EqualsIgnoreCase(option, "close")) keep_alive_ = false;
        if (EqualsIgnoreCase(option, "keep-alive") && version == "HTTP/1.0") keep_alive_ = true;
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    } else if (EqualsIgnoreCase(name, "Expect")) {
      if (EqualsIgnoreCase(value, "100-continue")) {
        expects_continue_ = true;
        expect_line_begin_ = line_begin;
        expect_line_end_ = pos;
      }
    }
  }
  // Both framings at once is how requests are smuggled past proxies.
  if (has_length && has_encoding) return Refuse(400);
  if (has_encoding) {
    chunked_ = true;
    phase_ = Phase::kChunkSize;
    line_start_ = head_bytes_;
    scanned_ = head_bytes_;
    return state_;
  }
  if (content_length_ == 0) return Complete(head_bytes_, false);
  phase_ = Phase::kFixedBody;
  return state_;
}

RequestFramer::State RequestFramer::FeedChunked(std::string_view bytes) {
  for (;;) {
    switch (phase_) {
      case Phase::kChunkSize:
      case Phase::kTrailer: {
        const void* nl = scanned_ < bytes.size()
                             ? std::memchr(bytes.data() + scanned_, '\n', bytes.size() - scanned_)
                             : nullptr;
        if (nl == nullptr) {
          scanned_ = bytes.size();
          if (scanned_ - line_start_ > kMaxChunkLine) return Refuse(400);
          return state_;
        }
        const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - bytes.data());
        scanned_ = end + 1;
        if (end == line_start_ || bytes[end - 1] != '\r' || end - line_start_ > kMaxChunkLine) {
          return Refuse(400);
        }
        const std::string_view line = bytes.substr(line_start_, end - 1 - line_start_);
        line_start_ = scanned_;
        if (phase_ == Phase::kTrailer) {
          // Trailer fields are not read by kmsd's HTTP layer: only the empty line may follow.
          if (!line.empty()) return Refuse(400);
          return Complete(scanned_, false);
        }
        const std::string_view size_text = Trim(line.substr(0, line.find(';')));
        if (size_text.empty() || size_text.size() > 15) return Refuse(400);
        uint64_t size = 0;
        for (char c : size_text) {
          const int v = HexValue(c);
          if (v < 0) return Refuse(400);
          size = size * 16 + static_cast<uint64_t>(v);
        }
        if (size == 0) {
          phase_ = Phase::kTrailer;
        } else {
          chunk_left_ = size;
          phase_ = Phase::kChunkData;
        }
        break;
      }
      case Phase::kChunkData: {
        const uint64_t available = bytes.size() - scanned_;
        uint64_t take = chunk_left_ < available ? chunk_left_ : available;
        const uint64_t room = limits_.max_body_bytes + 1 - body_seen_;
        if (take >= room) return Complete(scanned_ + room, true);
        body_seen_ += take;
        chunk_left_ -= take;
        scanned_ += take;
        if (chunk_left_ > 0) return state_;
        phase_ = Phase::kChunkDataEnd;
        break;
      }
      case Phase::kChunkDataEnd: {
        if (bytes.size() - scanned_ < 2) return state_;
        if (bytes[scanned_] != '\r' || bytes[scanned_ + 1] != '\n') return Refuse(400);
        scanned_ += 2;
        line_start_ = scanned_;
        phase_ = Phase::kChunkSize;
        break;
      }
      default:
        return state_;
    }
  }
}

}  // namespace kmsfs::kms::server
