/* supervisor/config.h — vigil's configuration file.
 *
 * Format: one "key = value" per line; '#' starts a comment line; keys are
 * dotted words ("validator.ping_patterns"); a key may repeat (lists).  Values
 * are taken verbatim after trimming blanks; surrounding double quotes are
 * removed.  Unknown keys are kept (modules look up their own). */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stddef.h>

typedef struct vigil_config vigil_config;

/* Loads FILE (NULL: an empty config).  On error returns NULL and writes
 * "FILE:LINE: message" into err.  Free with cfg_free(). */
vigil_config *cfg_load(const char *file, char *err, size_t errlen);
void cfg_free(vigil_config *cfg);
/* Last value of KEY, or NULL.  The pointer lives as long as cfg. */
const char *cfg_get(const vigil_config *cfg, const char *key);
/* The i-th value (0-based, in file order) of a repeated KEY, or NULL. */
const char *cfg_get_nth(const vigil_config *cfg, const char *key, size_t i);
/* Sets KEY to VALUE (a copy), replacing earlier values (command-line overrides). */
int cfg_set(vigil_config *cfg, const char *key, const char *value);

#endif
