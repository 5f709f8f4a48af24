// Which extended attribute names the mount passes through to the backing
// files, and which it keeps to itself.
#ifndef KMSFS_FS_CORE_XATTR_NAMES_H_
#define KMSFS_FS_CORE_XATTR_NAMES_H_

namespace kmsfs::core {

// The volume's own attributes (`user.kmsfs`: a file's header or a
// directory's name value; `user.kmsfs.*`: long names, the mount's status):
// never passed through, so nobody can read or set them through the mount.
bool IsHeaderXattr(const char* name);

// Only the user.* and trusted.* namespaces pass through to the backing files.
// security.* (SELinux labels, file capabilities) and system.* (POSIX ACLs,
// which this mount does not enforce) belong to the backing filesystem, not to
// the plaintext tree; answering them here also spares a disk read per file:
// `ls -l` asks for security.selinux and system.posix_acl_access on every
// entry, and the kernel asks for security.capability before a file's first
// write, and each such lookup reads the backing file's xattr block.
bool IsBackingOnlyXattr(const char* name);

// Names a read through the mount never finds, whatever the file: the header's
// and the backing-only ones. Reading one answers ENODATA.
inline bool IsNeverFound(const char* name) { return IsHeaderXattr(name) || IsBackingOnlyXattr(name); }

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_XATTR_NAMES_H_
