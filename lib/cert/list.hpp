// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
// Listing what a context sees: tokens, objects, modules. Each calls cb once
// per item; a nonzero return from cb stops the listing and is returned.
#pragma once
#include <p11tls/p11tls.h>

#include "world/context.hpp"

namespace p11tls {

int list_tokens(const CtxState &ctx, const char *uri, p11tls_token_cb cb, void *arg);
int list_objects(const CtxState &ctx, const char *uri, unsigned flags, p11tls_object_cb cb, void *arg);
int list_modules(const CtxState &ctx, p11tls_module_cb cb, void *arg);

}  // namespace p11tls
