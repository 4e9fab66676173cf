/* libFuzzer target: the TSV dataset parser (attend_dataset_read_stream with
 * format ATTEND_FORMAT_TSV); the input is a whole file. See fuzz_data.h for
 * the properties checked.
 * The same input is also read as TEXT (prediction input, one record per
 * line), which shares the line reader. */
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_dataset(data, size, ATTEND_FORMAT_TSV);
    fuzz_dataset(data, size, ATTEND_FORMAT_TEXT);
    return 0;
}
