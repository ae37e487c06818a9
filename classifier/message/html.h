/*
 * html.h - reduce HTML to the text a reader would see, and collect the URLs
 * of links, images and forms.
 *
 * One pass, no tag stack and no allocation beyond growing the output, so
 * run time is linear in the input whatever it holds (a million nested tags,
 * unclosed quotes or comments, '<' everywhere).
 */
#ifndef BAYES_HTML_H
#define BAYES_HTML_H

#include <stddef.h>

#include "util.h"

/*
 * html_reduce - append the visible text of html[0..n) to text_out
 * (caller-owned): tags removed; the content of <script>, <style>, comments
 * and <!...> declarations dropped; character references decoded (the
 * common named ones and &#NNN; / &#xHH;) to UTF-8; runs of blanks collapsed
 * to one space, and block-level tags (p, div, br, li, tr, h1...) turned
 * into a line break. The values of href, src, action, background, poster
 * and cite attributes are passed, entity-decoded and trimmed, to url_cb
 * (may be NULL) as NUL-terminated strings valid only during the call.
 * The output is valid UTF-8 when the input is; an unclosed tag, quote or
 * comment hides the rest of the input, as it would in a browser.
 */
void html_reduce(const char *html, size_t n, struct buf *text_out,
		 void (*url_cb)(void *ctx, const char *url, size_t len), void *ctx);

#endif
