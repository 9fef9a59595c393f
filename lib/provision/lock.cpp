// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The host-wide provisioning lock of a token (lock.hpp).
#include "provision/lock.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "base/log.hpp"

namespace p11tls {

namespace {

std::string lock_path(const TokenState &t) {
    unsigned char digest[SHA256_DIGEST_SIZE];
    sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, t.uri().size(), reinterpret_cast<const uint8_t *>(t.uri().data()));
    sha256_digest(&h, sizeof digest, digest);
    static const char digits[] = "0123456789abcdef";
    std::string name = "p11tls-provision-";
    for (size_t i = 0; i < 16; ++i) {
        name += digits[digest[i] >> 4];
        name += digits[digest[i] & 15];
    }
    struct stat st;
    const char *dir = stat("/run/lock", &st) == 0 && S_ISDIR(st.st_mode) ? "/run/lock" : "/tmp";
    return std::string(dir) + "/" + name + ".lock";
}

}  // namespace

ProvisionLock::ProvisionLock(const TokenState &t) {
    const std::string path = lock_path(t);
    // Read-only is enough for flock(2), and lets every user lock a file
    // the first one made. O_NONBLOCK: a FIFO put in its place must not
    // block open(); O_NOFOLLOW: nor a link lead elsewhere.
    int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        debug("token %s: no provisioning lock (%s: %s); relying on the check after writing", t.label().c_str(),
              path.c_str(), fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0) close(fd);
        return;
    }
    bool told = false;
    for (unsigned waited = 0;; waited += 10) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            fd_ = fd;
            return;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) break;
        if (waited >= kProvisionLockWaitMs) {
            log_warning("token %s: another process has held its provisioning lock for %u s; going on without it",
                        t.label().c_str(), kProvisionLockWaitMs / 1000);
            break;
        }
        if (!told) {
            debug("token %s: waiting for another p11tls process writing to it (%s)", t.label().c_str(),
                  path.c_str());
            told = true;
        }
        const struct timespec step = {0, 10 * 1000 * 1000};
        nanosleep(&step, nullptr);
    }
    close(fd);
}

ProvisionLock::~ProvisionLock() {
    if (fd_ >= 0) close(fd_);  // releases the lock
}

}  // namespace p11tls
