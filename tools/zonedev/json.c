// SPDX-License-Identifier: MIT
/*
 * A small JSON writer for --json: objects and arrays nest, members are
 * written as they come, two spaces of indentation per level.  Addresses
 * are strings ("0x..."): a JSON number is a double to most readers, exact
 * only up to 2^53.
 */
#include <inttypes.h>
#include <math.h>

#include "tool.h"

static void sep(struct json *j, const char *key)
{
	if (j->depth) {
		fputs(j->first[j->depth] ? "\n" : ",\n", j->f);
		j->first[j->depth] = false;
		fprintf(j->f, "%*s", 2 * j->depth, "");
	}
	if (key) {
		json_write_string(j, key);
		fputs(": ", j->f);
	}
}

void json_write_string(struct json *j, const char *s)
{
	fputc('"', j->f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(j->f, "\\%c", c);
		else if (c < 0x20)
			fprintf(j->f, "\\u%04x", c);
		else
			fputc(c, j->f);
	}
	fputc('"', j->f);
}

static void open_(struct json *j, const char *key, char bracket)
{
	sep(j, key);
	fputc(bracket, j->f);
	if (j->depth + 1 < JSON_MAX_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
}

static void close_(struct json *j, char bracket)
{
	bool empty = j->first[j->depth];

	if (j->depth)
		j->depth--;
	if (!empty)
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	fputc(bracket, j->f);
	if (!j->depth)
		fputc('\n', j->f);
}

void json_object(struct json *j, const char *key) { open_(j, key, '{'); }
void json_array(struct json *j, const char *key) { open_(j, key, '['); }
void json_end_object(struct json *j) { close_(j, '}'); }
void json_end_array(struct json *j) { close_(j, ']'); }

void json_string(struct json *j, const char *key, const char *val)
{
	sep(j, key);
	if (val)
		json_write_string(j, val);
	else
		fputs("null", j->f);
}

void json_uint(struct json *j, const char *key, uint64_t val)
{
	sep(j, key);
	fprintf(j->f, "%" PRIu64, val);
}

void json_int(struct json *j, const char *key, int64_t val)
{
	sep(j, key);
	fprintf(j->f, "%" PRId64, val);
}

void json_hex(struct json *j, const char *key, uint64_t val)
{
	sep(j, key);
	fprintf(j->f, "\"0x%" PRIx64 "\"", val);
}

void json_bool(struct json *j, const char *key, bool val)
{
	sep(j, key);
	fputs(val ? "true" : "false", j->f);
}

/* NaN and infinities have no JSON form: null. */
void json_double(struct json *j, const char *key, double val)
{
	sep(j, key);
	if (isfinite(val))
		fprintf(j->f, "%.3f", val);
	else
		fputs("null", j->f);
}

void json_header(struct json *j, FILE *f, const char *command)
{
	j->f = f;
	j->depth = 0;
	json_object(j, NULL);
	json_string(j, "command", command);
	json_int(j, "schema_version", TOOL_JSON_SCHEMA);
	json_string(j, "zonedev_version", ZONEDEV_VERSION);
}
