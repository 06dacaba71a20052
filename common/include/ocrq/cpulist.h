/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * CPU lists as Linux writes them ("0-3,6", as in Cpus_allowed_list), and how
 * the supervisor shares a list out among its children.
 */
#ifndef OCRQ_CPULIST_H
#define OCRQ_CPULIST_H

#define OCRQ_MAX_CPUS 1024

/*
 * Parse s ("0-3,6,8-9"; spaces around items allowed) into ascending,
 * distinct CPU numbers below OCRQ_MAX_CPUS. cpus may be NULL to only check.
 * Returns how many CPUs s names (at most max are stored), or -1 if s is not
 * a CPU list (empty, a bad number, a range that runs backwards).
 */
int ocrq_cpulist_parse(const char *s, int *cpus, int max);

/*
 * The share of child k (0 <= k < n) of the n CPUs in cpus: with n_cpus >= n
 * children, a contiguous run of n_cpus/n or n_cpus/n + 1 CPUs; with more
 * children than CPUs, the one CPU cpus[k % n_cpus]. Writes the first index
 * into cpus to *first and returns how many follow it (at least 1).
 */
int ocrq_cpulist_share(int n_cpus, int n, int k, int *first);

/* Format cpus[0..n) as a list ("0-3,6") into buf; returns buf. */
char *ocrq_cpulist_format(const int *cpus, int n, char *buf, unsigned long buflen);

#endif
