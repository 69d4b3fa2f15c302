/*
 * test_metrics.c - rating and ranking metrics on hand-computed cases.
 */
#include "metrics.h"
#include "unit.h"

static void
test_rmse_and_mae(void)
{
	const double pred[] = {1.0, 2.0, 3.0, 4.0};
	const double target[] = {1.0, 4.0, 2.0, 4.0};

	/* errors 0, -2, 1, 0 */
	CHECK_NEAR(fm_rmse(pred, target, 4), sqrt(5.0 / 4.0), 1e-15);
	CHECK_NEAR(fm_mae(pred, target, 4), 3.0 / 4.0, 1e-15);
	CHECK(fm_rmse(pred, pred, 4) == 0.0);
	CHECK(isnan(fm_rmse(pred, target, 0)));
	CHECK(isnan(fm_mae(pred, target, 0)));
}

static void
test_precision_and_recall(void)
{
	const int64_t ranked[] = {10, 20, 30, 40, 50};
	const int64_t relevant[] = {30, 10, 99};

	/* hits at positions 1 and 3 */
	CHECK_NEAR(fm_precision_at_k(ranked, 5, relevant, 3, 1), 1.0, 1e-15);
	CHECK_NEAR(fm_precision_at_k(ranked, 5, relevant, 3, 2), 0.5, 1e-15);
	CHECK_NEAR(fm_precision_at_k(ranked, 5, relevant, 3, 5), 0.4, 1e-15);
	CHECK_NEAR(fm_recall_at_k(ranked, 5, relevant, 3, 2), 1.0 / 3.0, 1e-15);
	CHECK_NEAR(fm_recall_at_k(ranked, 5, relevant, 3, 5), 2.0 / 3.0, 1e-15);

	/* k beyond the list: precision still divides by k */
	CHECK_NEAR(fm_precision_at_k(ranked, 5, relevant, 3, 10), 0.2, 1e-15);
	CHECK_NEAR(fm_recall_at_k(ranked, 5, relevant, 3, 10), 2.0 / 3.0, 1e-15);

	/* nothing relevant, nothing ranked, k = 0 */
	CHECK(fm_precision_at_k(ranked, 5, relevant, 0, 3) == 0.0);
	CHECK(isnan(fm_recall_at_k(ranked, 5, relevant, 0, 3)));
	CHECK(fm_precision_at_k(ranked, 0, relevant, 3, 3) == 0.0);
	CHECK(fm_recall_at_k(ranked, 0, relevant, 3, 3) == 0.0);
	CHECK(isnan(fm_precision_at_k(ranked, 5, relevant, 3, 0)));
	CHECK(isnan(fm_recall_at_k(ranked, 5, relevant, 3, -1)));
}

static void
test_repeated_ids_count_once(void)
{
	const int64_t ranked[] = {7, 7, 7, 8};
	const int64_t relevant[] = {7, 8};

	CHECK_NEAR(fm_precision_at_k(ranked, 4, relevant, 2, 3), 1.0 / 3.0, 1e-15);
	CHECK_NEAR(fm_recall_at_k(ranked, 4, relevant, 2, 4), 1.0, 1e-15);
	CHECK_NEAR(fm_ndcg_at_k(ranked, 4, relevant, 2, 4),
			   (1.0 + 1.0 / log2(5.0)) / (1.0 + 1.0 / log2(3.0)), 1e-15);
}

static void
test_ndcg(void)
{
	const int64_t ranked[] = {10, 20, 30, 40};
	const int64_t relevant[] = {20, 40};
	const int64_t perfect[] = {40, 20, 1, 2};
	double		dcg = 1.0 / log2(3.0) + 1.0 / log2(5.0);
	double		idcg = 1.0 + 1.0 / log2(3.0);

	CHECK_NEAR(fm_ndcg_at_k(ranked, 4, relevant, 2, 4), dcg / idcg, 1e-15);
	CHECK_NEAR(fm_ndcg_at_k(perfect, 4, relevant, 2, 4), 1.0, 1e-15);
	CHECK_NEAR(fm_ndcg_at_k(perfect, 4, relevant, 2, 1), 1.0, 1e-15);
	/* k = 1 with a miss on top */
	CHECK(fm_ndcg_at_k(ranked, 4, relevant, 2, 1) == 0.0);
	/* the ideal list is cut at k: one relevant of many can still score 1 */
	{
		const int64_t many[] = {1, 2, 3, 4, 5, 6};

		CHECK_NEAR(fm_ndcg_at_k(many, 6, many, 6, 1), 1.0, 1e-15);
		CHECK_NEAR(fm_ndcg_at_k(many + 1, 5, many, 1, 5), 0.0, 1e-15);
	}
	CHECK(isnan(fm_ndcg_at_k(ranked, 4, relevant, 0, 4)));
	CHECK(isnan(fm_ndcg_at_k(ranked, 4, relevant, 2, 0)));
	CHECK(fm_ndcg_at_k(ranked, 0, relevant, 2, 4) == 0.0);
}

int
main(void)
{
	RUN_TEST(test_rmse_and_mae);
	RUN_TEST(test_precision_and_recall);
	RUN_TEST(test_repeated_ids_count_once);
	RUN_TEST(test_ndcg);
	return unit_report();
}
