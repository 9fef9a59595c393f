/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* uriattr.h - what the tool reads of a pkcs11: URI's path itself, before
 * the library sees it: which command path a URI takes (info: type=),
 * whether it names an object at all (delete). The library parses and
 * checks every URI; these only look at attribute names, and at no
 * pin-value. */
#ifndef P11TLS_CLI_URIATTR_H
#define P11TLS_CLI_URIATTR_H

#include <stddef.h>

/* The value of the path attribute name (still percent-encoded), copied
 * into buf, or NULL if the path has none or it does not fit. */
const char *cli_uri_attr(const char *uri, const char *name, char *buf, size_t size);

/* 1 if the URI has an object attribute (object=, id=, type=). */
int cli_uri_names_object(const char *uri);

#endif
