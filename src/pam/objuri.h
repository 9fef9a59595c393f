/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/*
 * objuri.h — build the URI of one object from a listing.
 */
#ifndef PAM_P11TLS_OBJURI_H
#define PAM_P11TLS_OBJURI_H

/* Returns a malloc'd URI naming the object of listed_uri (as reported by
 * p11tls_list_objects: token and object attributes) with its type= set to
 * type ("cert", "private"), plus the module-selecting attributes of the
 * configured uri= (library-* in the path, module-name and module-path in
 * the query). Without them a token seen through two modules (a module=
 * option that wraps a registered one) would make the object ambiguous.
 * Other query attributes (pin-value, pin-source) are not copied: the PIN
 * comes from the PAM conversation. NULL on a non-pkcs11: URI or no memory. */
char *object_uri_for(const char *listed_uri, const char *type, const char *config_uri);

#endif /* PAM_P11TLS_OBJURI_H */
