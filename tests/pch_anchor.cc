// The one unit of kmsfs_test_pch (tests/CMakeLists.txt): the target exists to
// build the precompiled header the test binaries reuse.
