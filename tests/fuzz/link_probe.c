/* SPDX-License-Identifier: Apache-2.0 */
/* Configure-time probe: can clang link a libFuzzer target at all? It holds
 * no project code, so a compile error in the project never disables fuzzing. */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	(void)size;
	return 0;
}
