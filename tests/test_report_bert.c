/* attend report's model pictures on a fine-tuned BERT-family encoder, on the
 * small random folder tests/hf_fixtures/bert/e20_h4_l3_base (no download):
 * - the positional table "before fine-tuning" is the folder's pretrained
 *   table read again from the source named in the provenance (not a random
 *   initialisation), and a source that is gone is an error naming it;
 * - per-head importance: masking head h of layer l (its columns of the
 *   attention output projection set to 0) gives the loss and accuracy of the
 *   same model with head h's values set to 0 instead (its rows of the value
 *   projection and its value bias), a second way to remove the head's output;
 * - the report page is written and calls the tables what they are. */
#define _XOPEN_SOURCE 700
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "train/train.h"
#include "viz/explain.h"
#include "test.h"
#include "test_tmp.h"

#define FOLDER "tests/hf_fixtures/bert/e20_h4_l3_base"

static char dir[600], src_link[700], data_path[700], model_path[700];

/* Two classes the fixture's vocabulary can tell apart (words it has). */
static int write_data(void) {
    static const char *verbs[] = {"walk", "sing", "jump", "run"};
    static const char *nouns[] = {"dog", "cat", "tree", "house"};
    FILE *f = fopen(data_path, "w");
    if (!f) return 0;
    for (int i = 0; i < 64; i++) {
        const char *w = i % 2 ? verbs[(i / 2) % 4] : nouns[(i / 2) % 4];
        fprintf(f, "%s\tthe %s %s %s lazy\n", i % 2 ? "verb" : "noun", w, i % 3 ? "the" : "a", w);
    }
    return fclose(f) == 0;
}

/* Fine-tunes the folder (through the link) with a large rate, so that every
 * table moves away from where it started. */
static int fine_tune(void) {
    attend_train_options o;
    memset(&o, 0, sizeof o);
    attend_train_options_default(&o);
    o.data_path = data_path;
    o.init_path = src_link;
    o.out_path = model_path;
    o.val_split = 0.25;
    o.epochs = 2;
    o.batch = 8;
    o.lr = 1e-2f;
    o.seed = 4;
    o.model.max_len = 0;    /* the folder's */
    o.model.dropout = -1.f; /* the folder's */
    attend_train_result res;
    attend_error err = {0};
    attend_status st = attend_train(&o, &res, &err);
    CHECK(st == ATTEND_OK, "fine-tuning: %s", err.msg);
    return st == ATTEND_OK;
}

static void test_initial_pos(attend_model *m, const attend_model *src) {
    const size_t n = m->cfg.max_len * m->cfg.d_model;
    float *got = malloc(n * sizeof(float));
    attend_error err = {0};
    attend_status st = attend_model_initial_pos(m, got, &err);
    CHECK(st == ATTEND_OK, "initial table of the fine-tuned model: %s", err.msg);
    if (st == ATTEND_OK) {
        CHECK(memcmp(got, src->p.pos_emb, n * sizeof(float)) == 0, "it is the folder's pretrained table");
        CHECK(memcmp(got, m->p.pos_emb, n * sizeof(float)) != 0, "and not the fine-tuned one");
    }
    // a BERT model that names no source has no initial table to show
    char *prov = m->meta_provenance;
    m->meta_provenance = "{\"data\":\"x\",\"seed\":4}";
    st = attend_model_initial_pos(m, got, &err);
    CHECK(st == ATTEND_ERR_ARG && strstr(err.msg, "pretrained"), "no source recorded: an error (%s)", err.msg);
    m->meta_provenance = prov;
    free(got);
}

/* The model with head h of layer l removed by zeroing its values. */
static void zero_values(attend_model *mv, const attend_model *m, size_t l, size_t h, float *w, float *b) {
    const size_t E = m->cfg.d_model, D = E / m->cfg.nhead;
    const attend_mha_params *a = &m->p.layers[l].self_attn;
    *mv = *m;
    memcpy(w, a->v_proj_weight, E * E * sizeof(float));
    memcpy(b, a->in_proj_bias, 3 * E * sizeof(float));
    memset(w + h * D * E, 0, D * E * sizeof(float)); /* rows: outputs of head h */
    memset(b + 2 * E + h * D, 0, D * sizeof(float));
    mv->p.layers[l].self_attn.v_proj_weight = w;
    mv->p.layers[l].self_attn.in_proj_bias = b;
}

static void test_importance(const attend_model *m) {
    attend_data_options dopt;
    memset(&dopt, 0, sizeof dopt);
    attend_dataset ds;
    attend_encoded enc;
    memset(&enc, 0, sizeof enc);
    attend_error err = {0};
    int32_t ids[64];
    attend_status st = attend_dataset_read(&ds, data_path, &dopt, &err);
    if (!st && ds.count <= 64) st = attend_labels_map(&m->labels, &ds, ids, &err);
    if (!st) st = attend_encode_dataset(&enc, m, &ds, ids, NULL, 0, NULL, NULL, &err);
    CHECK(st == ATTEND_OK && ds.count == 64, "data encoded: %s", err.msg);
    attend_head_stats hs;
    if (st || (st = attend_head_stats_compute(m, &enc, 0, 1, &hs, &err))) {
        CHECK(st == ATTEND_OK, "head statistics: %s", err.msg);
        attend_encoded_free(&enc);
        attend_dataset_free(&ds);
        return;
    }
    CHECK(hs.has_importance && hs.L == 3 && hs.H == 4 && hs.n_examples == 64, "importance of 3 x 4 heads");
    const size_t E = m->cfg.d_model;
    float *w = malloc(E * E * sizeof(float)), *b = malloc(3 * E * sizeof(float));
    attend_metrics mt;
    memset(&mt, 0, sizeof mt);
    attend_metrics_init(&mt, m->cfg.num_classes);
    st = attend_evaluate(m, &enc, 64, &mt, NULL, &err);
    CHECK(st == ATTEND_OK && mt.loss == hs.base_loss && mt.accuracy == hs.base_accuracy,
          "base loss %g and accuracy %g as attend_evaluate's", hs.base_loss, hs.base_accuracy);
    double worst = 0, moved = 0;
    int acc_same = 1;
    for (size_t l = 0; l < hs.L; l++)
        for (size_t h = 0; h < hs.H; h++) {
            attend_model mv;
            zero_values(&mv, m, l, h, w, b);
            if ((st = attend_evaluate(&mv, &enc, 64, &mt, NULL, &err))) break;
            const size_t k = l * hs.H + h;
            double d = fabs((mt.loss - hs.base_loss) - hs.loss_rise[k]);
            worst = d > worst ? d : worst;
            moved = fabs(hs.loss_rise[k]) > moved ? fabs(hs.loss_rise[k]) : moved;
            acc_same &= fabs((hs.base_accuracy - mt.accuracy) - hs.acc_drop[k]) < 1e-12;
        }
    printf("importance: largest loss rise %.3g, worst difference to zeroed values %.3g\n", moved, worst);
    CHECK(st == ATTEND_OK, "evaluations: %s", err.msg);
    CHECK(worst <= 1e-6, "every head's loss rise as with its values zeroed (worst difference %g)", worst);
    CHECK(acc_same, "every head's accuracy drop as with its values zeroed");
    CHECK(moved > 1e-4, "some head matters (largest loss rise %g)", moved);
    attend_metrics_free(&mt);
    free(w);
    free(b);
    attend_head_stats_free(&hs);
    attend_encoded_free(&enc);
    attend_dataset_free(&ds);
}

static int slurp_has(const char *path, const char *needle) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, needle) != NULL;
}

static void test_page(const attend_model *m, int source_there) {
    char out[800], index[900];
    snprintf(out, sizeof out, "%s/report%d", dir, source_there);
    snprintf(index, sizeof index, "%s/index.html", out);
    attend_report_options ro;
    attend_report_options_default(&ro);
    ro.model_path = model_path;
    ro.data_path = data_path;
    ro.max_stats_examples = 16;
    attend_error err = {0};
    attend_status st = attend_report_write(m, &ro, out, NULL, &err);
    CHECK(st == ATTEND_OK, "report: %s", err.msg);
    CHECK(slurp_has(index, "Positional table before fine-tuning") == source_there,
          "the pretrained table is drawn only when its source can be read");
    CHECK(!slurp_has(index, "random noise"), "the pretrained table is not called random noise");
    CHECK(slurp_has(index, "WordPiece tokens"), "the model card names the WordPiece vocabulary");
    if (!source_there)
        CHECK(slurp_has(index, "The pretrained table cannot be shown: the model was fine-tuned from"),
              "the page says why the pretrained table is missing");
}

int main(void) {
    char folder[PATH_MAX];
    if (!realpath(FOLDER, folder)) {
        fprintf(stderr, "test_report_bert: %s not found (run from the repository root)\n", FOLDER);
        return 2;
    }
    test_tmp_dir(dir, sizeof dir, "report_bert");
    snprintf(src_link, sizeof src_link, "%s/src", dir);
    snprintf(data_path, sizeof data_path, "%s/ft.tsv", dir);
    snprintf(model_path, sizeof model_path, "%s/ft.safetensors", dir);
    unlink(src_link);
    if (symlink(folder, src_link) != 0 || !write_data()) {
        fprintf(stderr, "test_report_bert: cannot write in %s\n", dir);
        return 2;
    }
    attend_model *m = NULL, *src = NULL;
    attend_error err = {0};
    if (fine_tune()) {
        CHECK(attend_model_load(&m, model_path, &err) == ATTEND_OK, "fine-tuned model: %s", err.msg);
        CHECK(attend_model_load(&src, folder, &err) == ATTEND_OK, "folder: %s", err.msg);
    }
    if (m && src) {
        test_initial_pos(m, src);
        test_importance(m);
        test_page(m, 1);
        // the source is gone: an error that names it, and a page without the table
        unlink(src_link);
        float *got = malloc(m->cfg.max_len * m->cfg.d_model * sizeof(float));
        attend_status st = attend_model_initial_pos(m, got, &err);
        CHECK(st != ATTEND_OK && strstr(err.msg, src_link), "source gone: an error naming it (%s)", err.msg);
        free(got);
        test_page(m, 0);
    }
    attend_model_free(m);
    attend_model_free(src);
    unlink(src_link);
    return test_summary("test_report_bert");
}
