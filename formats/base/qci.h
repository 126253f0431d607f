/* qci.h — distribution-free confidence intervals of a quantile (binomial order statistics)
 * and the Wilson interval of a share: replay --search judges its stages with them and analyze
 * judges stages from a log's exchanges the same way, so both say the same thing of one run. */
#ifndef LLMTRACE_QCI_H
#define LLMTRACE_QCI_H

#include <stddef.h>

/* With n samples sorted, the q-quantile lies in [x(l), x(u)] (1-based orders) with
 * probability >= 1 - alpha, l the largest order with P(B <= l - 1) <= alpha/2 and u the
 * smallest with P(B <= u - 1) >= 1 - alpha/2, B ~ Binomial(n, q); l = 0 / u = n + 1 when
 * off the sample (that side unbounded). */
void qci_orders(size_t n, double q, double alpha, size_t *l, size_t *u);
/* Fewest samples for which the upper order exists (u <= n). */
size_t qci_min_samples(double q, double alpha);
/* Linear interpolation between order statistics of sorted v (NumPy's default); NAN for n 0.
 * +Inf values (failed requests) are allowed. */
double qci_quantile(const double *v, size_t n, double q);
/* The standard normal quantile 1 - alpha/2. */
double qci_z(double alpha);
/* Wilson score interval of a share p of n at 1 - alpha, clamped to [0, 1]. */
void qci_wilson(double p, size_t n, double alpha, double *lo, double *hi);
/* Interval of the q-quantile of sorted v: *point, *lo, *hi (±INFINITY when unbounded). */
void qci_quantile_ci(const double *v, size_t n, double q, double alpha, double *point,
                     double *lo, double *hi);

#endif
