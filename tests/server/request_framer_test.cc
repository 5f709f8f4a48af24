#include "kms/server/request_framer.h"

#include <gtest/gtest.h>

#include <string>

namespace kmsfs::kms::server {
namespace {

using State = RequestFramer::State;

// Feeds `bytes` in one piece.
RequestFramer Frame(const std::string& bytes, FramingLimits limits = {}) {
  RequestFramer f(limits);
  f.Feed(bytes);
  return f;
}

// Feeds `bytes` one byte more at a time, as a slow client sends them.
RequestFramer FrameByteByByte(const std::string& bytes, FramingLimits limits = {}) {
  RequestFramer f(limits);
  for (size_t i = 1; i <= bytes.size() && f.state() == State::kNeedMore; ++i) f.Feed(std::string_view(bytes).substr(0, i));
  return f;
}

TEST(KmsdRequestFramerTest, RequestWithoutBodyEndsAtTheEmptyLine) {
  const std::string req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const RequestFramer& f : {Frame(req + "GET /next"), FrameByteByByte(req)}) {
    ASSERT_EQ(f.state(), State::kComplete);
    EXPECT_EQ(f.request_bytes(), req.size());
    EXPECT_EQ(f.head_bytes(), req.size());
    EXPECT_TRUE(f.keep_alive());
    EXPECT_FALSE(f.body_truncated());
  }
}

TEST(KmsdRequestFramerTest, ContentLengthBodyIsWaitedFor) {
  const std::string req = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
  RequestFramer f;
  EXPECT_EQ(f.Feed(std::string_view(req).substr(0, req.size() - 1)), State::kNeedMore);
  EXPECT_TRUE(f.head_complete());
  EXPECT_EQ(f.Feed(req + "extra"), State::kComplete);
  EXPECT_EQ(f.request_bytes(), req.size());
  EXPECT_EQ(FrameByteByByte(req).request_bytes(), req.size());
}

TEST(KmsdRequestFramerTest, ChunkedBodyEndsAfterTheLastChunk) {
  const std::string req =
      "POST /a HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n5;ext=1\r\nhello\r\n1a\r\n" + std::string(26, 'z') +
      "\r\n0\r\n\r\n";
  for (const RequestFramer& f : {Frame(req + "GET"), FrameByteByByte(req)}) {
    ASSERT_EQ(f.state(), State::kComplete);
    EXPECT_EQ(f.request_bytes(), req.size());
    EXPECT_TRUE(f.chunked());
  }
}

TEST(KmsdRequestFramerTest, ConnectionHeaderDecidesKeepAlive) {
  EXPECT_FALSE(Frame("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n").keep_alive());
  EXPECT_FALSE(Frame("GET / HTTP/1.0\r\n\r\n").keep_alive());
  EXPECT_TRUE(Frame("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive());
}

TEST(KmsdRequestFramerTest, ExpectContinueIsReportedWithItsLine) {
  const std::string head = "POST /a HTTP/1.1\r\n";
  const std::string expect = "Expect: 100-continue\r\n";
  RequestFramer f = Frame(head + expect + "Content-Length: 2\r\n\r\n");
  EXPECT_EQ(f.state(), State::kNeedMore);
  EXPECT_TRUE(f.expects_continue());
  EXPECT_EQ(f.expect_line_begin(), head.size());
  EXPECT_EQ(f.expect_line_end(), head.size() + expect.size());
}

TEST(KmsdRequestFramerTest, TooManyHeaderLinesIs431AsSoonAsTheyArrive) {
  FramingLimits limits;
  limits.max_header_count = 10;
  std::string req = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 11; ++i) req += "X-A: b\r\n";
  RequestFramer f = Frame(req, limits);  // no empty line yet
  EXPECT_EQ(f.state(), State::kRefused);
  EXPECT_EQ(f.refusal_status(), 431);
}

TEST(KmsdRequestFramerTest, LongLinesAndLongHeadsAreRefusedBeforeTheyEnd) {
  FramingLimits limits;
  limits.max_request_line = 100;
  limits.max_header_line = 100;
  limits.max_head_bytes = 1000;
  RequestFramer a = Frame("GET /" + std::string(200, 'a'), limits);
  EXPECT_EQ(a.state(), State::kRefused);
  EXPECT_EQ(a.refusal_status(), 414);
  RequestFramer b = Frame("GET / HTTP/1.1\r\nX: " + std::string(200, 'a'), limits);
  EXPECT_EQ(b.refusal_status(), 431);
  std::string many = "GET / HTTP/1.1\r\n";
  while (many.size() < 1100) many += "X-Y: " + std::string(50, 'q') + "\r\n";
  RequestFramer c = Frame(many, limits);
  EXPECT_EQ(c.refusal_status(), 431);
  // Exactly at the limits is fine.
  RequestFramer d = Frame("GET /" + std::string(81, 'a') + " HTTP/1.1\r\nX: " + std::string(97, 'b') + "\r\n\r\n",
                          limits);
  EXPECT_EQ(d.state(), State::kComplete);
}

TEST(KmsdRequestFramerTest, BodyOverTheLimitIsFramedCutAfterOneMoreByte) {
  FramingLimits limits;
  limits.max_body_bytes = 10;
  const std::string head = "POST /a HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n";
  RequestFramer f = Frame(head + std::string(10, 'x'), limits);
  EXPECT_EQ(f.state(), State::kNeedMore);
  f.Feed(head + std::string(11, 'x'));
  ASSERT_EQ(f.state(), State::kComplete);
  EXPECT_TRUE(f.body_truncated());
  EXPECT_EQ(f.request_bytes(), head.size() + 11);

  const std::string chunked = "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n";
  RequestFramer g = FrameByteByByte(chunked, limits);
  ASSERT_EQ(g.state(), State::kComplete);
  EXPECT_TRUE(g.body_truncated());
}

TEST(KmsdRequestFramerTest, AmbiguousOrMalformedFramingIs400) {
  for (const std::string& bad : {
           std::string("GET / HTTP/1.1\nHost: x\n\n"),
           std::string("\r\nGET / HTTP/1.1\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: x\r\n  continued\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nNo colon\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n"),
           std::string("GET /a b HTTP/1.1\r\n\r\n"),
           std::string("GET / HTTP/1.2\r\n\r\n"),
           std::string("G\x7f T / HTTP/1.1\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTrailer: x\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n"),
       }) {
    RequestFramer f = Frame(bad);
    EXPECT_EQ(f.state(), State::kRefused) << bad;
    EXPECT_EQ(f.refusal_status(), 400) << bad;
  }
}

TEST(KmsdRequestFramerTest, ResetFramesTheNextRequest) {
  RequestFramer f;
  ASSERT_EQ(f.Feed("GET /a HTTP/1.1\r\n\r\n"), State::kComplete);
  f.Reset();
  EXPECT_FALSE(f.started());
  EXPECT_EQ(f.Feed("POST /b HTTP/1.1\r\nContent-Length: 1\r\n\r\nz"), State::kComplete);
}

}  // namespace
}  // namespace kmsfs::kms::server
