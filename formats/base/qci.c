/* qci.c — quantile and share confidence intervals (qci.h), shared so replay --search and
 * analyze judge a stage by one rule. */
#include "qci.h"

#include <math.h>

void qci_orders(size_t n, double q, double alpha, size_t *l, size_t *u)
{
    /* P(B <= k) built incrementally from the pmf in log space */
    double lq = log(q), l1q = log1p(-q);
    double cdf = 0;
    *l = 0;
    *u = n + 1;
    for (size_t k = 0; k <= n; k++) {
        /* log C(n, k) + k log q + (n - k) log(1 - q) */
        double lp = lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1) +
                    (double)k * lq + (double)(n - k) * l1q;
        cdf += exp(lp); /* now P(B <= k) */
        if (cdf <= alpha / 2)
            *l = k + 1;  /* P(B <= l - 1) <= alpha/2 with l - 1 = k */
        if (cdf >= 1 - alpha / 2 && *u == n + 1 && k + 1 <= n)
            *u = k + 1;
    }
}

size_t qci_min_samples(double q, double alpha)
{
    /* u <= n needs P(B <= n - 1) = 1 - q^n >= 1 - alpha/2 */
    return (size_t)ceil(log(alpha / 2) / log(q));
}

double qci_quantile(const double *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n)
        return v[n - 1];
    double f = pos - (double)i;
    if (isinf(v[i + 1]))
        return f > 0 ? v[i + 1] : v[i];
    return v[i] + f * (v[i + 1] - v[i]);
}

double qci_z(double alpha)
{
    /* erfc(z / sqrt 2) = alpha, by bisection */
    double lo = 0, hi = 12;
    for (int i = 0; i < 100; i++) {
        double mid = (lo + hi) / 2;
        if (erfc(mid / sqrt(2)) > alpha)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

void qci_wilson(double p, size_t n, double alpha, double *lo, double *hi)
{
    if (n == 0) {
        *lo = *hi = NAN;
        return;
    }
    double z = qci_z(alpha), nn = (double)n;
    double c = (p + z * z / (2 * nn)) / (1 + z * z / nn);
    double h = z / (1 + z * z / nn) * sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn));
    *lo = c - h < 0 ? 0 : c - h;
    *hi = c + h > 1 ? 1 : c + h;
}

void qci_quantile_ci(const double *v, size_t n, double q, double alpha, double *point,
                     double *lo, double *hi)
{
    size_t l, u;
    *point = qci_quantile(v, n, q);
    if (n == 0) {
        *lo = -INFINITY;
        *hi = INFINITY;
        return;
    }
    qci_orders(n, q, alpha, &l, &u);
    *lo = l >= 1 ? v[l - 1] : -INFINITY;
    *hi = u <= n ? v[u - 1] : INFINITY;
}
