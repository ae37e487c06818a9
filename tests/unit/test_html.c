/*
 * test_html.c - HTML reduction: entities, dropped script/style/comments,
 * URLs, and hostile input (bombs, unclosed quotes, '<' everywhere).
 */
#include "harness.h"

#include "message/html.h"

#include <stdlib.h>
#include <time.h>

struct urls {
	struct buf list;	/* one URL per line */
};

/* collect_url - url callback: one per line; checks NUL termination. */
static void collect_url(void *ctx, const char *url, size_t len)
{
	struct urls *u = ctx;

	CHECK(url[len] == '\0');
	buf_append(&u->list, url, len);
	buf_putc(&u->list, '\n');
}

/* reduce - html to text in a static buffer, URLs into *u (may be NULL). */
static const char *reduce(const char *html, struct urls *u)
{
	static struct buf out;

	buf_reset(&out);
	html_reduce(html, strlen(html), &out, u ? collect_url : NULL, u);
	return out.data ? out.data : "";
}

TEST(html_entities)
{
	CHECK_STR(reduce("a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;", NULL),
		  "a & b <c> \"d\" 'e'");
	CHECK_STR(reduce("&#233;&#xE9;&#XE9; &eacute;&Eacute; caf&eacute", NULL), "ééé éÉ café");
	CHECK_STR(reduce("x&nbsp;&nbsp;y &bogus; & z &#; &#x;", NULL), "x y &bogus; & z &#; &#x;");
	CHECK_STR(reduce("&#128; &#0; &#xD800; &#99999999;", NULL), "€ \xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd");
	/* Soft hyphens and zero-width characters hide words: dropped. */
	CHECK_STR(reduce("Vi&shy;ag&#8203;ra &#x200C;now", NULL), "Viagra now");
	CHECK_STR(reduce("&copy; 2024 &euro;5 &mdash; &hellip;", NULL), "© 2024 €5 — …");
}

TEST(html_tags_and_blocks)
{
	CHECK_STR(reduce("<p>one</p><p>two<br>three</p>", NULL), "one\ntwo\nthree");
	CHECK_STR(reduce("Vi<b></b>ag<span class=x>ra</span>", NULL), "Viagra");
	CHECK_STR(reduce("  lots   of\n\n  blanks  ", NULL), "lots of blanks");
	CHECK_STR(reduce("<table><tr><td>a</td><td>b</td></tr></table>", NULL), "a b");
	CHECK_STR(reduce("<DIV>Up</DIV><Br/>case", NULL), "Up\ncase");
}

TEST(html_script_style_comments_dropped)
{
	CHECK_STR(reduce("a<script>var x = '<p>no</p>';</script>b", NULL), "ab");
	CHECK_STR(reduce("a<STYLE type=text/css>p { color: red }</Style >b", NULL), "ab");
	CHECK_STR(reduce("a<!-- hidden <b>text</b> -->b", NULL), "ab");
	CHECK_STR(reduce("a<!DOCTYPE html>b<?xml version='1.0'?>c", NULL), "abc");
	CHECK_STR(reduce("a<!-- never closed", NULL), "a");
	CHECK_STR(reduce("a<script>never closed", NULL), "a");
}

TEST(html_urls_reported)
{
	struct urls u = { { 0 } };

	const char *t = reduce("<a HREF=\"http://ex.com/a?x=1&amp;y=2\">click</a>"
			       "<img src='http://img.example/p.gif' alt=\"x\">"
			       "<form action=http://f.example/post></form>"
			       "<body background=\" http://bg.example/b.jpg \">"
			       "<a href=\"\">empty</a><a name=\"href\">n</a>", &u);
	CHECK_STR(t, "click\nemptyn");
	CHECK_STR(u.list.data, "http://ex.com/a?x=1&y=2\nhttp://img.example/p.gif\n"
		  "http://f.example/post\nhttp://bg.example/b.jpg\n");
	buf_free(&u.list);
}

TEST(html_hostile_input)
{
	/* '<' that opens no tag is text. */
	CHECK_STR(reduce("1 < 2 <3 <<<< a<", NULL), "1 < 2 <3 <<<< a<");
	/* An unclosed quote hides the rest, as in a browser. */
	CHECK_STR(reduce("a<a href=\"x>text", NULL), "a");
	CHECK_STR(reduce("a<a title='x>text", NULL), "a");
	CHECK_STR(reduce("a<b", NULL), "a");
	CHECK_STR(reduce("</>a</ b>c", NULL), "ac");

	/* A million nested tags and a million bare '<': linear. */
	size_t n = 1000000;
	struct buf in = { 0 }, out = { 0 };
	for (size_t i = 0; i < n; i++)
		buf_append(&in, "<div><b>", 8);
	buf_append(&in, "x", 1);
	clock_t c0 = clock();
	html_reduce(in.data, in.len, &out, NULL, NULL);
	CHECK_STR(out.data, "x");
	buf_reset(&in);
	buf_reset(&out);
	for (size_t i = 0; i < n; i++)
		buf_append(&in, "<<!-", 4);
	html_reduce(in.data, in.len, &out, NULL, NULL);
	buf_reset(&in);
	buf_reset(&out);
	for (size_t i = 0; i < n; i++)
		buf_append(&in, "<a x='1' y=\"2\" z=3 &amp;", 24);
	html_reduce(in.data, in.len, &out, NULL, NULL);
	double sec = (double)(clock() - c0) / CLOCKS_PER_SEC;
	CHECK(sec < 5.0);
	buf_free(&in);
	buf_free(&out);
}

/*
 * The expected output in tests/golden/html-newsletter.txt was written by
 * hand from reading the HTML, not produced by html_reduce().
 */
TEST(html_golden_newsletter)
{
	static const char html[] =
		"<!DOCTYPE html>\n<html><head><title>Summer Sale</title>\n"
		"<style>body { font: 12px Arial } .hide { display:none }</style>\n"
		"<script type=\"text/javascript\">document.write('<b>tracking</b>');</script>\n"
		"</head>\n<body bgcolor=\"#ffffff\">\n"
		"<h1>Summer&nbsp;Sale &ndash; 50&#37; off!</h1>\n"
		"<p>Dear customer,<br>our <b>best</b> offers for you:</p>\n"
		"<ul><li>Caf&eacute; machines &amp; grinders</li>\n<li>Cr&egrave;me br&ucirc;l&eacute;e sets</li></ul>\n"
		"<!-- <p>old offer</p> -->\n"
		"<p><a href=\"https://shop.example.com/sale?utm=mail&amp;id=42\">Shop now</a> or "
		"<a href='mailto:sales@example.com'>write to us</a>.</p>\n"
		"<img src=\"https://cdn.example.net/logo.png\" width=1 height=1>\n"
		"<table><tr><td>Price:</td><td>&euro;&#160;19,99</td></tr></table>\n"
		"</body></html>\n";
	struct urls u = { { 0 } };
	struct buf all = { 0 };

	const char *t = reduce(html, &u);
	buf_append(&all, t, strlen(t));
	buf_append(&all, "\n--- urls ---\n", 14);
	buf_append(&all, u.list.data, u.list.len);
	CHECK_GOLDEN("html-newsletter.txt", all.data, all.len);
	buf_free(&all);
	buf_free(&u.list);
}
