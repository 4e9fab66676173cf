/* Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/:
 * small valid inputs and the hostile cases of the safetensors rules
 * (ANCHORS.md: oversized header, gaps, overlaps, shape-product overflow,
 * trailing bytes, truncation, invalid UTF-8, ...) and of the dataset,
 * tokenizer and metadata parsers. The files are committed; rerun after
 * changing this program:
 *     cc -std=c11 -o /tmp/make_seeds fuzz/make_seeds.c && /tmp/make_seeds fuzz/corpus
 * (the model seeds come from fuzz/make_model_seeds.sh, which trains tiny
 * models with build/attend). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *root;

static void put(const char *target, const char *name, const void *p, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) { perror(path); exit(1); }
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) { perror(path); exit(1); }
}

static void puts_(const char *target, const char *name, const char *s) {
    put(target, name, s, strlen(s));
}

/* ---- safetensors ---- */

/* A file: 8-byte length, header (padded with spaces to a multiple of 8
 * unless pad = 0), then ndata bytes 0, 1, 2, ... */
static void st_file_n(const char *name, const char *header, size_t h, int pad, size_t ndata) {
    size_t hp = h;
    if (pad) while (hp % 8) hp++;
    size_t n = 8 + hp + ndata;
    unsigned char *b = malloc(n);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hp >> (8 * i));
    memcpy(b + 8, header, h);
    memset(b + 8 + h, ' ', hp - h);
    for (size_t i = 0; i < ndata; i++) b[8 + hp + i] = (unsigned char)(i * 7 + 1);
    put("safetensors", name, b, n);
    free(b);
}

static void st_file(const char *name, const char *header, int pad, size_t ndata) {
    st_file_n(name, header, strlen(header), pad, ndata);
}

/* A file whose 8-byte length says len whatever follows (n bytes of tail). */
static void st_raw_len(const char *name, uint64_t len, const char *tail) {
    size_t t = strlen(tail);
    unsigned char *b = malloc(8 + t);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(len >> (8 * i));
    memcpy(b + 8, tail, t);
    put("safetensors", name, b, 8 + t);
    free(b);
}

static void seeds_safetensors(void) {
    /* valid */
    st_file("valid_empty", "{}", 1, 0);
    st_file("valid_one_f32", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 1, 24);
    st_file("valid_scalar", "{\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}}", 1, 8);
    st_file("valid_zero_size",
            "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[0,0]},"
            "\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}", 1, 3);
    st_file("valid_all_dtypes",
            "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"caf\\u00e9 \\ud83d\\ude00\"},"
            "\"b\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]},"
            "\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
            "\"i8\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[2,3]},"
            "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[3,5]},"
            "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[5,7]},"
            "\"f16\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[7,9]},"
            "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[9,11]},"
            "\"u32\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[11,15]},"
            "\"i32\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[15,19]},"
            "\"f32\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[19,23]},"
            "\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[23,31]},"
            "\"i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[31,39]},"
            "\"f64\":{\"dtype\":\"F64\",\"shape\":[1,1,1,1,1,1,1,1],\"data_offsets\":[39,47]}}", 1, 47);
    st_file("valid_unpadded", "{\"w\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 0, 2);
    st_file("valid_metadata_null",
            "{\"__metadata__\":null,\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("valid_escapes", "{\"a\\\"b\\\\c\\/\\n\\t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("valid_whitespace", "{ \"w\" :\n{\"dtype\" : \"U8\" ,\t\"shape\":[ 1 ],\r\n\"data_offsets\":[ 0 , 1 ] } }", 1, 1);
    /* ANCHORS.md rejections */
    put("safetensors", "too_short", "\x02\x00\x00\x00\x00", 5);
    put("safetensors", "empty", "", 0);
    st_raw_len("header_over_limit", 100000001ull, "{}");
    st_raw_len("header_at_limit_past_end", 100000000ull, "{}");
    st_raw_len("header_u64_max", UINT64_MAX, "{}");
    st_raw_len("header_past_end", 64, "{}      ");
    st_raw_len("header_zero", 0, "");
    st_file("gap_between", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                           "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}", 1, 12);
    st_file("gap_first", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 1, 8);
    st_file("overlap", "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}", 1, 12);
    st_file("overlap_same", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                            "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 1, 4);
    st_file("shape_overflow_numel",
            "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}", 1, 0);
    st_file("shape_overflow_bytes",
            "{\"a\":{\"dtype\":\"F64\",\"shape\":[1125899906842624,2048],\"data_offsets\":[0,0]}}", 1, 0);
    st_file("shape_wraps_to_small",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387,4096,1],\"data_offsets\":[0,4]}}", 1, 4);
    st_file("size_mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 1, 4);
    st_file("trailing_bytes", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 1, 5);
    st_file("truncated_data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 1, 9);
    st_file("offsets_past_end", "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 1, 2);
    st_file("begin_after_end", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 1, 4);
    st_file("offsets_three", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1, 1);
    st_file("offsets_huge", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[18446744073709551615,0]}}", 1, 1);
    st_file("utf8_invalid_byte", "{\"\xff\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("utf8_overlong", "{\"\xc0\xaf\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("utf8_surrogate", "{\"\xed\xa0\x80\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("utf8_truncated_seq", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}\xe2\x82", 0, 1);
    st_file("utf8_above_max", "{\"\xf4\x90\x80\x80\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("escape_lone_surrogate", "{\"\\udc00\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("escape_nul", "{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("json_truncated", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}", 1, 1);
    st_file("json_trailing_comma", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],}}", 1, 1);
    st_file("json_leading_zero", "{\"a\":{\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("json_float_dim", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("json_exp_dim", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1e0],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("json_negative_dim", "{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("json_minus_zero", "{\"a\":{\"dtype\":\"U8\",\"shape\":[-0],\"data_offsets\":[0,0]}}", 1, 0);
    st_file("json_dim_2p53", "{\"a\":{\"dtype\":\"U8\",\"shape\":[9007199254740992,0],\"data_offsets\":[0,0]}}", 1, 0);
    st_file("json_number_long", "{\"a\":{\"dtype\":\"U8\",\"shape\":[100000000000000000000000000001],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("json_control_char", "{\"a\tb\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("json_trailing_garbage", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}} x", 1, 1);
    st_file("json_not_object", "[1,2,3]", 1, 0);
    st_file("json_leading_space", " {}", 1, 0);
    st_file("json_bom", "\xef\xbb\xbf{}", 1, 0);
    st_file_n("json_pad_nul", "{}\0\0\0\0\0\0", 8, 0, 0);
    st_file("duplicate_name", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                              "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 1, 2);
    st_file("duplicate_key", "{\"a\":{\"dtype\":\"U8\",\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 1);
    st_file("duplicate_metadata", "{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 1, 0);
    st_file("metadata_not_string", "{\"__metadata__\":{\"k\":1}}", 1, 0);
    st_file("metadata_array", "{\"__metadata__\":[\"k\"]}", 1, 0);
    st_file("unknown_dtype", "{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 1, 4);
    st_file("lowercase_dtype", "{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 1, 4);
    st_file("unknown_entry_key", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1, 1);
    st_file("missing_shape", "{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1, 1);
    st_file("entry_not_object", "{\"a\":[1]}", 1, 0);
    st_file("nine_dims", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, 1);
    {
        char deep[600];
        size_t k = 0;
        k += (size_t)sprintf(deep, "{\"a\":");
        for (int i = 0; i < 200; i++) deep[k++] = '[';
        for (int i = 0; i < 200; i++) deep[k++] = ']';
        deep[k++] = '}';
        deep[k] = 0;
        st_file("nested_deep", deep, 1, 0);
    }
    {
        /* many zero-size tensors (sorting, duplicate detection, lookups) */
        char big[8192];
        size_t k = (size_t)sprintf(big, "{");
        for (int i = 0; i < 120; i++)
            k += (size_t)sprintf(big + k, "%s\"t%03d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}",
                                 i ? "," : "", (i * 37) % 120);
        big[k++] = '}';
        big[k] = 0;
        st_file("many_tensors", big, 1, 0);
    }
    /* misaligned F32 after one byte: the reader makes an aligned copy */
    st_file("misaligned_f32", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}", 1, 9);
}

/* ---- datasets ---- */

static void seeds_data(void) {
    puts_("tsv", "valid", "pos\tgood fine great\nneg\tbad awful\npos\thappy\n");
    puts_("tsv", "crlf_bom_blank", "\xef\xbb\xbfpos\tgood\r\n\r\n  \nneg\tbad text\twith tab\r\n");
    puts_("tsv", "malformed", "no tab here\n\tempty label\npos\t\n  pos  \t  spaced  \nneg\t\xff\xfe bad utf8\nneg\tok\n");
    put("tsv", "nul_byte", "pos\tgo\0od\nneg\tbad\n", 19);
    puts_("tsv", "long_line", "pos\taaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nneg\tb\n");
    puts_("tsv", "no_final_newline", "pos\tone\nneg\ttwo");
    puts_("tsv", "only_bad", "x\ny\n");
    puts_("tsv", "utf8_cut", "pos\t\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\n");
    puts_("tsv", "cr_only", "pos\tone\rneg\ttwo\r");

    puts_("csv", "valid", "label,text\npos,good fine\nneg,\"bad, awful\"\npos,\"say \"\"hi\"\"\"\n");
    puts_("csv", "columns_reordered", "id,text,extra,label\n1,hello,x,pos\n2,\"multi\nline\",y,neg\n");
    puts_("csv", "crlf_bom", "\xef\xbb\xbftext,label\r\ngood,pos\r\n\"bad\"\r\n,neg\r\n\r\n");
    puts_("csv", "unterminated", "text,label\n\"never closed,pos\n");
    puts_("csv", "stray_quote", "text,label\n\"abc\"def,pos\nok,neg\n");
    puts_("csv", "missing_fields", "text,label,extra\nonly\n,\nfine,pos,x\n");
    puts_("csv", "duplicate_column", "text,label,text\na,b,c\n");
    puts_("csv", "no_column", "foo,bar\na,b\n");
    puts_("csv", "header_only", "text,label\n");
    puts_("csv", "empty_header", "\n\n");
    puts_("csv", "invalid_utf8", "text,label\n\xc3\x28,pos\nok,\xff\n");
    puts_("csv", "quoted_header", "\"text\",\" label \"\n\"a\",\"b\"\n");
    puts_("csv", "long_record", "text,label\n\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",pos\nb,neg\n");

    puts_("fasttext", "valid", "__label__pos good fine\n__label__neg bad awful\n__label__a __label__b two labels\n");
    puts_("fasttext", "malformed", "no label\n__label__ empty\n__label__x\n   __label__y  spaced  \n__label\n__label__z \xff\n");
    puts_("fasttext", "crlf_bom", "\xef\xbb\xbf__label__pos good\r\n\r\n__label__neg\tbad\r\n");
    puts_("fasttext", "only_labels", "__label__a __label__b __label__c\n");

    puts_("jsonl", "valid", "{\"text\":\"good fine\",\"label\":\"pos\"}\n{\"label\":3,\"text\":\"three\"}\n{\"text\":\"caf\\u00e9\",\"label\":\"neg\",\"x\":[1,{}]}\n");
    puts_("jsonl", "malformed", "{\"text\":\"a\"}\n{\"label\":\"b\"}\n[1]\n{bad json\n{\"text\":1,\"label\":\"x\"}\n{\"text\":\"t\",\"label\":1.5}\n{\"text\":\"t\",\"label\":null}\n{\"text\":\"ok\",\"label\":\"y\"}\n");
    puts_("jsonl", "escapes", "{\"text\":\"\\ud800 lone\",\"label\":\"a\"}\n{\"text\":\"nul\\u0000here\",\"label\":\"b\"}\n{\"text\":\"\\ud83d\\ude00\",\"label\":\"\\n\"}\n{\"text\":\"x\",\"label\":\"ok\"}\n");
    puts_("jsonl", "numbers", "{\"text\":\"a\",\"label\":9007199254740993}\n{\"text\":\"b\",\"label\":-12}\n{\"text\":\"c\",\"label\":1e300}\n{\"text\":\"d\",\"label\":0}\n");
    puts_("jsonl", "crlf_bom", "\xef\xbb\xbf{\"text\":\"a\",\"label\":\"b\"}\r\n\r\n{\"text\":\"c\",\"label\":\"d\"}  \r\n");
    puts_("jsonl", "deep", "{\"text\":\"a\",\"label\":\"b\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}\n");
}

/* ---- tokenizer ---- */

static void seeds_tokenizer(void) {
    puts_("tokenizer", "english", "The quick brown fox jumps over the lazy dog.");
    puts_("tokenizer", "apostrophes", "don't dogs' o'clock 'quoted' rock'n'roll");
    puts_("tokenizer", "numbers", "3.14 mp3 1,000,000 \xe2\x85\xa0\xe2\x85\xa1 \xc2\xbd \xd9\xa3\xd9\xa4");
    puts_("tokenizer", "casefold", "Stra\xc3\x9f" "e \xe1\xba\x9e \xc4\xb0stanbul \xce\xa3\xce\x9f\xce\xa6\xce\x99\xce\x91");
    puts_("tokenizer", "nfkc", "\xef\xac\x81le \xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3 \xe2\x91\xa0 \xe3\x8e\x8f x\xc2\xb2");
    puts_("tokenizer", "ignorables", "soft\xc2\xadhyphen zero\xe2\x80\x8bwidth joi\xe2\x80\x8dner \xef\xbb\xbf" "bom");
    puts_("tokenizer", "lumping", "\xe2\x80\x9c" "curly\xe2\x80\x9d \xe2\x80\x98quotes\xe2\x80\x99 en\xe2\x80\x93" "dash em\xe2\x80\x94" "dash no\xc2\xa0" "break");
    puts_("tokenizer", "combining", "e\xcc\x81 a\xcc\x8a\xcc\x81 \xcc\x81leading !\xcc\x81 \xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87");
    puts_("tokenizer", "cjk_emoji", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7 \xf0\x9f\x87\xab\xf0\x9f\x87\xb7");
    puts_("tokenizer", "specials", "<pad> <unk> <cls> </s> <<>>");
    puts_("tokenizer", "controls", "tab\there\nnew\rline\x01\x7f end");
    puts_("tokenizer", "arabic_hebrew", "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xe2\x80\x8f");
    puts_("tokenizer", "private_unassigned", "\xee\x80\x80 \xf3\xb0\x80\x80 \xf0\xaf\xa8\x80 \xf4\x8f\xbf\xbf");
    puts_("tokenizer", "invalid_byte", "ok \xff bad");
    puts_("tokenizer", "invalid_overlong", "\xc0\xaf");
    puts_("tokenizer", "invalid_surrogate", "\xed\xa0\x80");
    puts_("tokenizer", "invalid_truncated", "abc\xe2\x82");
    put("tokenizer", "nul_inside", "a\0b", 3);
    puts_("tokenizer", "empty", "");
    puts_("tokenizer", "hangul", "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8 \xea\xb0\x81");
}

/* ---- metadata JSON (vocabulary, labels, config) ---- */

static void seeds_vocab(void) {
    puts_("vocab", "vocab_valid", "[\"<pad>\",\"<unk>\",\"<cls>\",\"the\",\"cat\",\"caf\\u00e9\"]");
    puts_("vocab", "vocab_specials_only", "[\"<pad>\",\"<unk>\",\"<cls>\"]");
    puts_("vocab", "vocab_duplicate", "[\"<pad>\",\"<unk>\",\"<cls>\",\"a\",\"a\"]");
    puts_("vocab", "vocab_duplicate_special", "[\"<pad>\",\"<unk>\",\"<cls>\",\"<pad>\"]");
    puts_("vocab", "vocab_wrong_special", "[\"<unk>\",\"<pad>\",\"<cls>\"]");
    puts_("vocab", "vocab_short", "[\"<pad>\"]");
    puts_("vocab", "vocab_empty_token", "[\"<pad>\",\"<unk>\",\"<cls>\",\"\"]");
    puts_("vocab", "vocab_not_string", "[\"<pad>\",\"<unk>\",\"<cls>\",1,null]");
    puts_("vocab", "vocab_surrogate", "[\"<pad>\",\"<unk>\",\"<cls>\",\"\\ud800\"]");
    puts_("vocab", "vocab_nul", "[\"<pad>\",\"<unk>\",\"<cls>\",\"a\\u0000b\",\"a\"]");
    puts_("vocab", "vocab_raw_invalid", "[\"<pad>\",\"<unk>\",\"<cls>\",\"\xff\"]");
    puts_("vocab", "labels_valid", "[\"neg\",\"pos\"]");
    puts_("vocab", "labels_unsorted", "[\"pos\",\"neg\"]");
    puts_("vocab", "labels_dup", "[\"a\",\"a\"]");
    puts_("vocab", "labels_empty", "[]");
    puts_("vocab", "labels_empty_name", "[\"\",\"a\"]");
    puts_("vocab", "config_valid",
          "{\"vocab_size\":16,\"num_classes\":2,\"d_model\":8,\"nhead\":2,\"num_layers\":1,"
          "\"dim_feedforward\":8,\"max_len\":8,\"pos\":\"learned\",\"pool\":\"mean\",\"head_hidden\":[],"
          "\"activation\":\"relu\",\"norm_first\":false,\"layer_norm_eps\":9.99999974737875e-06,"
          "\"dropout\":0.10000000149011612}");
    puts_("vocab", "config_variant",
          "{\"vocab_size\":5,\"num_classes\":3,\"d_model\":4,\"nhead\":4,\"num_layers\":0,"
          "\"dim_feedforward\":1,\"max_len\":2,\"pos\":\"sinusoidal\",\"pool\":\"cls\",\"head_hidden\":[3,2,1,5],"
          "\"activation\":\"gelu\",\"norm_first\":true,\"layer_norm_eps\":0.5,\"dropout\":0}");
    puts_("vocab", "config_huge",
          "{\"vocab_size\":1e300,\"num_classes\":-1,\"d_model\":9007199254740993,\"nhead\":0,\"num_layers\":65,"
          "\"dim_feedforward\":1.5,\"max_len\":16385,\"pos\":\"x\",\"pool\":\"max\",\"head_hidden\":[0,1e9,2,3,4],"
          "\"activation\":\"relu\",\"norm_first\":1,\"layer_norm_eps\":1e300,\"dropout\":1}");
    puts_("vocab", "config_pos_product",
          "{\"vocab_size\":16,\"num_classes\":2,\"d_model\":16384,\"nhead\":1,\"num_layers\":0,"
          "\"dim_feedforward\":1,\"max_len\":16384,\"pos\":\"sinusoidal\",\"pool\":\"mean\",\"head_hidden\":[],"
          "\"activation\":\"relu\",\"norm_first\":false,\"layer_norm_eps\":1e-5,\"dropout\":0.1}");
    puts_("vocab", "not_json", "[\"<pad>\",");
    puts_("vocab", "empty", "");
}

int main(int argc, char **argv) {
    root = argc > 1 ? argv[1] : "fuzz/corpus";
    if (mkdir(root, 0777) != 0 && errno != EEXIST) { perror(root); return 1; }
    seeds_safetensors();
    seeds_data();
    seeds_tokenizer();
    seeds_vocab();
    return 0;
}
