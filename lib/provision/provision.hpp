// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// The provisioning jobs behind include/p11tls/provision.h, one file each.
#pragma once
#include "world/context.hpp"

namespace p11tls {

// set_pin.cpp: p11tls_token_set_pin.
void set_user_pin(const CtxState &ctx, const char *token_uri);

}  // namespace p11tls
