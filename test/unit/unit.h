/*
 * unit.h - a tiny assertion harness for the core's unit tests.
 *
 * CHECK(cond) and CHECK_NEAR(a, b, eps) count passes and failures and print
 * each failure with its location; a test binary ends with
 *
 *     return unit_report();
 *
 * which prints exactly "N passed, M failed" and returns non-zero on failure.
 */
#ifndef FM_UNIT_H
#define FM_UNIT_H

#include <math.h>
#include <stdio.h>

static int	unit_passed;
static int	unit_failed;

static inline void
unit_record(int ok, const char *file, int line, const char *what)
{
	if (ok)
		unit_passed++;
	else
	{
		unit_failed++;
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what);
	}
}

static inline void
unit_record_near(double a, double b, double eps, const char *file, int line,
				 const char *what)
{
	/* NaN never passes: it usually means the code under test went wrong */
	int			ok = fabs(a - b) <= eps;

	if (!ok)
		fprintf(stderr, "%s:%d: %s = %.17g, expected %.17g +- %g\n",
				file, line, what, a, b, eps);
	unit_record(ok, file, line, what);
}

#define CHECK(cond) unit_record((cond) ? 1 : 0, __FILE__, __LINE__, #cond)
#define CHECK_NEAR(a, b, eps) \
	unit_record_near((double) (a), (double) (b), (double) (eps), __FILE__, __LINE__, #a)

/* Run one test function, naming it on failure. */
#define RUN_TEST(fn) \
	do { \
		int			failed_before_ = unit_failed; \
		fn(); \
		if (unit_failed != failed_before_) \
			fprintf(stderr, "  in %s\n", #fn); \
	} while (0)

static inline int
unit_report(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed == 0 ? 0 : 1;
}

#endif							/* FM_UNIT_H */
