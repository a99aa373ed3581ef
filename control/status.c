/* SPDX-License-Identifier: Apache-2.0 */
#include "control/status.h"

#include <errno.h>
#include <string.h>

#include <curl/curl.h>

#define CW_STATUS_TIMEOUT_MS 5000L

static size_t write_body(char *data, size_t size, size_t n, void *out)
{
	return fwrite(data, size, n, out) * size;
}

int cw_status_fetch(const char *admin, bool json, FILE *out, char *err, size_t errlen)
{
	char url[512];
	CURL *c;
	CURLcode rc;
	long code = 0;

	snprintf(url, sizeof(url), "http://%s/%s", admin, json ? "status" : "status.txt");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c = curl_easy_init())) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -EIO;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, CW_STATUS_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* the admin API is never behind a proxy */
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(rc));
		return -EIO;
	}
	if (code != 200) {
		snprintf(err, errlen, "%s: HTTP status %ld", url, code);
		return -EIO;
	}
	return 0;
}
