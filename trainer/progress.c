/*
 * progress.c - the progress line on standard error. See progress.h.
 *
 * The rate is messages per second since the start; the time left is
 * extrapolated from bytes, which a folder of small and large messages
 * tells better than a message count.
 */
#include "progress.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

struct progress {
	uint64_t total;			/* bytes expected */
	double start, last_draw;	/* monotonic seconds */
	bool shown;			/* the line is on the screen */
	bool shared;			/* standard output is a terminal too */
};

/* progress_clock - monotonic seconds */
static double progress_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* progress_start - a progress line when standard error is a terminal */
struct progress *progress_start(uint64_t total_bytes)
{
	struct progress *p;

	if (!isatty(STDERR_FILENO))
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->total = total_bytes;
	p->start = progress_clock();
	p->last_draw = p->start - 1.0;	/* the first update draws */
	p->shared = isatty(STDOUT_FILENO);
	return p;
}

/* progress_duration - seconds as H:MM:SS or M:SS */
static void progress_duration(double s, char *out, size_t len)
{
	unsigned long t = s > 0 && s < 1e7 ? (unsigned long)(s + 0.5) : 0;

	if (t >= 3600)
		snprintf(out, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(out, len, "%lu:%02lu", t / 60, t % 60);
}

/* progress_update - redraw the line when PROGRESS_REDRAW_MS have passed */
void progress_update(struct progress *p, uint64_t messages, uint64_t bytes_done)
{
	double now, elapsed;
	char eta[32] = "?";

	if (p == NULL)
		return;
	now = progress_clock();
	if (p->shown && (now - p->last_draw) * 1000 < PROGRESS_REDRAW_MS)
		return;
	p->last_draw = now;
	elapsed = now - p->start;
	if (bytes_done > 0 && p->total >= bytes_done && elapsed > 0.5)
		progress_duration(elapsed * (double)(p->total - bytes_done) / (double)bytes_done, eta,
				  sizeof(eta));
	fprintf(stderr, "\r%llu messages, %.1f of %.1f MB (%.0f%%), %.0f msg/s, ETA %s\033[K",
		(unsigned long long)messages, (double)bytes_done / 1048576.0, (double)p->total / 1048576.0,
		p->total ? 100.0 * (double)bytes_done / (double)p->total : 100.0,
		elapsed > 0 ? (double)messages / elapsed : 0.0, eta);
	fflush(stderr);
	p->shown = true;
}

/* progress_hide - erase the line before standard output writes to the terminal */
void progress_hide(struct progress *p)
{
	if (p == NULL || !p->shown || !p->shared)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->shown = false;
}

/* progress_end - erase the line and free it */
void progress_end(struct progress **pp)
{
	struct progress *p = *pp;

	if (p == NULL)
		return;
	if (p->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	free(p);
	*pp = NULL;
}
