/*
 * progress.h - bayesc's progress line on a terminal while it trains from
 * folders and mbox files: messages done, bytes done of the total, the
 * rate and the time left.
 *
 * Only when standard error is a terminal: otherwise progress_start()
 * returns NULL and every other function accepts NULL and does nothing,
 * so logs and pipes never see a carriage return. The line is redrawn at
 * most PROGRESS_REDRAW_MS apart; when standard output is the same kind of
 * terminal (per-message lines go there), progress_hide() takes the line
 * away before a message's output and the next update draws it again.
 */
#ifndef BAYESC_PROGRESS_H
#define BAYESC_PROGRESS_H

#include <stdint.h>

#define PROGRESS_REDRAW_MS	200

struct progress;

/* progress_start - a progress line over total_bytes of input, or NULL (no terminal). */
struct progress *progress_start(uint64_t total_bytes);

/* progress_update - messages and bytes of input done so far; redraws when due. */
void progress_update(struct progress *p, uint64_t messages, uint64_t bytes_done);

/* progress_hide - erase the line if standard output shares the terminal. */
void progress_hide(struct progress *p);

/* progress_end - erase the line for good, free *p and set it to NULL. */
void progress_end(struct progress **p);

#endif
