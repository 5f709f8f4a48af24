// RequestFramer: where one HTTP/1.1 request ends in the bytes a connection
// has sent, and whether it stays within kmsd's limits, decided before any
// worker thread sees the request (ConnectionGate runs it on its event loop).
//
// A request is framed once its head (request line and header lines, each
// ended by CRLF, then an empty line) and its body are complete. The body is
// Content-Length bytes, or a chunked body up to its last chunk and trailer;
// a request with neither has none. Refused, with the status to answer:
//   400  a malformed request line or header line (bare LF, obsolete line
//        folding, no colon, a name that is not a token), Transfer-Encoding
//        other than "chunked", Content-Length together with chunked, more than
//        one or a non-numeric Content-Length, a malformed chunk size line
//   414  a request line longer than max_request_line
//   431  a header line longer than max_header_line, more than
//        max_header_count header lines, or a head over max_head_bytes
// A body longer than max_body_bytes is not refused here: the request is
// framed as soon as max_body_bytes + 1 body bytes are in (body_truncated), so
// that kmsd answers it (KMS.0203 after the authentication checks) without
// buffering the rest, and the connection closes after the answer.
//
// The framer keeps its scanning state between calls, so feeding a request a
// byte at a time costs time linear in its length.
//
// Thread-safety: a value; one per connection, used by one thread at a time.
#ifndef KMSFS_KMS_SERVER_REQUEST_FRAMER_H_
#define KMSFS_KMS_SERVER_REQUEST_FRAMER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kmsfs::kms::server {

struct FramingLimits {
  size_t max_request_line = 8192;     // bytes, without CRLF
  size_t max_header_line = 8192;      // bytes, without CRLF
  size_t max_header_count = 100;
  size_t max_head_bytes = 32 * 1024;  // request line, header lines and CRLFs
  size_t max_body_bytes = 1 << 20;
};

class RequestFramer {
 public:
  enum class State { kNeedMore, kComplete, kRefused };

  explicit RequestFramer(FramingLimits limits = {}) : limits_(limits) {}

  // Scans `bytes`, which must start where this request starts and extend the
  // bytes of earlier calls. Once kComplete or kRefused the answer is final.
  State Feed(std::string_view bytes);

  // Forgets the request, to frame the next one on the same connection.
  void Reset();

  State state() const { return state_; }
  // kRefused: the HTTP status to answer (400, 414 or 431).
  int refusal_status() const { return refusal_status_; }
  // Whether any byte of this request has arrived.
  bool started() const { return started_; }
  // The head is complete (its length is head_bytes()).
  bool head_complete() const { return phase_ != Phase::kHead; }
  size_t head_bytes() const { return head_bytes_; }
  // kComplete: the bytes of `bytes` that form this request (head and body,
  // the body cut after max_body_bytes + 1 bytes when body_truncated()).
  size_t request_bytes() const { return request_bytes_; }
  bool body_truncated() const { return body_truncated_; }
  // Head complete: the client lets the connection stay open afterwards
  // (HTTP/1.1 without "Connection: close", HTTP/1.0 with "keep-alive").
  bool keep_alive() const { return keep_alive_; }
  // Head complete: "Expect: 100-continue" was sent; the client may wait for
  // an interim 100 before it sends the body.
  bool expects_continue() const { return expects_continue_; }
  // With expects_continue(): the Expect header line, CRLF included, as
  // offsets into the head (ConnectionGate answers the expectation itself and
  // drops the line before the request is handled).
  size_t expect_line_begin() const { return expect_line_begin_; }
  size_t expect_line_end() const { return expect_line_end_; }
  // Head complete: the declared body length (0 for chunked or no body).
  uint64_t content_length() const { return content_length_; }
  bool chunked() const { return chunked_; }

 private:
  enum class Phase { kHead, kFixedBody, kChunkSize, kChunkData, kChunkDataEnd, kTrailer, kDone };

  State Refuse(int status);
  State Complete(size_t end, bool truncated);
  // Reads the head's header lines once the empty line is found.
  State ParseHead(std::string_view head);
  State FeedChunked(std::string_view bytes);

  FramingLimits limits_;
  State state_ = State::kNeedMore;
  Phase phase_ = Phase::kHead;
  int refusal_status_ = 0;
  bool started_ = false;
  bool request_line_done_ = false;
  size_t scanned_ = 0;       // bytes of the input already scanned
  size_t line_start_ = 0;    // start of the line being scanned (head, chunk lines)
  size_t header_lines_ = 0;  // header lines seen so far (head phase)
  size_t head_bytes_ = 0;
  size_t request_bytes_ = 0;
  bool body_truncated_ = false;
  bool keep_alive_ = true;
  bool expects_continue_ = false;
  size_t expect_line_begin_ = 0;
  size_t expect_line_end_ = 0;
  bool chunked_ = false;
  uint64_t content_length_ = 0;
  uint64_t body_seen_ = 0;         // body data bytes (chunk payloads) framed so far
  uint64_t chunk_left_ = 0;        // bytes of the current chunk still to come
};

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_REQUEST_FRAMER_H_
