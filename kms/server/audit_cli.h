// `kmsd audit verify|show`: reading the audit trail (audit_log.h).
//
//   kmsd audit verify --data DIR
//       exit 0: the chain is intact ("N entries, chain intact, head H" on
//       stdout; a torn last line, a write kmsd never finished, is noted on
//       stderr and does not count as broken);
//       exit 1: it is broken; the first broken line is named on stderr.
//   kmsd audit show --data DIR --key KEY_ID
//       who used the key: one line per entry naming it (time, user, action,
//       result), oldest first; exit 1 (after the entries before it) when
//       the chain is broken.
// Exit 2: bad arguments, or a data directory kmsd would refuse. Both only
// read; they may run while kmsd serves.
#ifndef KMSFS_KMS_SERVER_AUDIT_CLI_H_
#define KMSFS_KMS_SERVER_AUDIT_CLI_H_

#include <string>
#include <vector>

namespace kmsfs::kms::server {

// `args` are the words after "audit". Returns the exit code.
int RunAuditCommand(const std::vector<std::string>& args);
std::string AuditUsage();

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_AUDIT_CLI_H_
