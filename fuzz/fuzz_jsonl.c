/* libFuzzer target: the JSONL dataset parser (attend_dataset_read_stream with
 * format ATTEND_FORMAT_JSONL); the input is a whole file. See fuzz_data.h for
 * the properties checked. */
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_dataset(data, size, ATTEND_FORMAT_JSONL);
    return 0;
}
