/*
 * prompt.c: guided entry.  On a terminal, `cafe add TYPE` with required
 * fields missing (or given wrong) asks for each of them, and `cafe edit
 * ID` with no field asks for each field with its current value as the
 * default.  Each question shows the field's help line, numbered choices
 * for enumerations and sets (answer by number or by name), the default in
 * brackets; each answer is checked at once by the same code as a command
 * line's (fields.c) and asked again on error.  A summary and a
 * confirmation end it.  Off a terminal nothing is ever asked.
 *
 * A long text can be written in $EDITOR: answer "!" to its question.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

int
cli_interactive(struct cli *c)
{
	(void)c;
	return isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) &&
	    getenv("CAFE_NO_PROMPT") == NULL;
}

int
cli_stderr_tty(void)
{
	return isatty(STDERR_FILENO);
}

/* Reads one answer line (malloc'd, without its newline), NULL at EOF. */
static char *
read_answer(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	fflush(stdout);
	n = getline(&line, &cap, stdin);
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

/*
 * Runs the editor on path as git does: the shell reads $VISUAL or $EDITOR
 * (which may hold options), and the path goes as an argument, never
 * through the shell's parsing.  Returns its exit status, or -1.
 */
static int
run_editor(const char *ed, const char *path)
{
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		char *cmd = xasprintf("%s \"$@\"", ed);

		execl("/bin/sh", "sh", "-c", cmd, ed, path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Opens $EDITOR on a scratch file; returns its text (malloc'd) or NULL. */
static char *
from_editor(const char *initial)
{
	char *path = xasprintf("%s/cafe-text.XXXXXX", cli_tmpdir()),
	    *text = NULL;
	const char *ed = getenv("VISUAL");
	FILE *f;
	int fd;
	size_t cap = 0, len = 0, n;

	if (ed == NULL || *ed == '\0')
		ed = getenv("EDITOR");
	if (ed == NULL || *ed == '\0')
		ed = "vi";
	if ((fd = mkstemp(path)) < 0) {
		free(path);
		return NULL;
	}
	if (initial != NULL && write(fd, initial, strlen(initial)) < 0) {
		close(fd);
		unlink(path);
		free(path);
		return NULL;
	}
	close(fd);
	if (run_editor(ed, path) == 0 && (f = fopen(path, "r")) != NULL) {
		for (;;) {
			if (cap - len < 1024) {
				cap = cap ? cap * 2 : 4096;
				text = xreallocarray(text, cap + 1, 1);
			}
			n = fread(text + len, 1, cap - len, f);
			len += n;
			if (n == 0)
				break;
		}
		fclose(f);
		while (len > 0 && text[len - 1] == '\n')
			len--;
		text[len] = '\0';
	}
	unlink(path);
	free(path);
	return text;
}

/* Whether the next optional question explains Enter and ".". */
static int optional_hint = 1;

/* Maps numbers among an answer's items to tokens (malloc'd). */
static char *
numbers_to_tokens(const struct sch_field *f, const char *answer)
{
	char *copy = xstrdup(answer), *tok, *save = NULL, *out = NULL, *n;
	int count = 0;

	while (f->tokens[count] != NULL)
		count++;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long k;

		while (*tok == ' ')
			tok++;
		k = strtol(tok, &end, 10);
		while (*end == ' ')
			end++;
		if (end != tok && *end == '\0' && k >= 1 && k <= count)
			tok = (char *)(uintptr_t)f->tokens[k - 1];
		n = out == NULL ? xstrdup(tok) : xasprintf("%s,%s", out, tok);
		free(out);
		out = n;
	}
	free(copy);
	return out != NULL ? out : xstrdup("");
}

/*
 * Asks for field f until a good answer; def is the default shown in
 * brackets (NULL: none).  Returns 0, 1 when "." ends the optional
 * questions, or -1 at end of input.
 */
static int
ask_field(struct cli *c, struct cli_put *p, const struct sch_field *f,
    const char *def, const char *def_shown, const char *why)
{
	char *answer, *v, *msg = NULL, *text;
	int i;

	printf("\n%s: %s%s\n", f->name, f->help, f->required ?
	    " (required)" : "");
	if (why != NULL)
		printf("  %s\n", why);
	if (!f->required && optional_hint) {
		printf("  (Enter skips a field, . skips the rest)\n");
		optional_hint = 0;
	}
	if (f->tokens != NULL) {
		for (i = 0; f->tokens[i] != NULL; i++)
			printf("  %d) %s\n", i + 1, f->tokens[i]);
		if (f->type == SCH_SET)
			printf("  (numbers or names, separated by commas)\n");
	} else if (f->type == SCH_REF || f->type == SCH_REFS)
		printf("  (%s a name or an id%s)\n", f->ref,
		    f->type == SCH_REFS ? ", separated by commas" : "");
	else if (f->type == SCH_DATE)
		printf("  (YYYY-MM-DD%s)\n", strcmp(f->name, "date") == 0 ?
		    ", today or yesterday" : "");
	else if (f->type == SCH_TEXT && f->max > 200)
		printf("  (! opens $EDITOR)\n");
	for (;;) {
		if (def_shown != NULL)
			printf("%s [%s]: ", f->name, def_shown);
		else
			printf("%s: ", f->name);
		if ((answer = read_answer()) == NULL)
			return -1;
		if (answer[0] == '\0' && def != NULL) {
			free(answer);
			answer = xstrdup(def);
		} else if (answer[0] == '\0' && !f->required) {
			free(answer);
			return 0;
		} else if (strcmp(answer, ".") == 0 && !f->required) {
			free(answer);
			return 1;	/* no more optional fields */
		}
		if (f->type == SCH_TEXT && strcmp(answer, "!") == 0) {
			free(answer);
			if ((answer = from_editor(def)) == NULL) {
				printf("  the editor did not give any text\n");
				continue;
			}
		}
		if (f->tokens != NULL) {
			text = numbers_to_tokens(f, answer);
			free(answer);
			answer = text;
		}
		if (answer[0] == '\0' && f->required) {
			printf("  %s is required\n", f->name);
			free(answer);
			continue;
		}
		/* "@x" typed at a prompt is text, not a file. */
		if (f->type == SCH_TEXT && answer[0] == '@') {
			text = xasprintf("@%s", answer);
			free(answer);
			answer = text;
		}
		v = cli_field_value(c, f, answer, &msg);
		free(answer);
		if (v == NULL) {
			printf("  %s\n", msg);
			free(msg);
			msg = NULL;
			continue;
		}
		cli_put_set(p, f, v);
		return 0;
	}
}

/* Prints what is about to be written. */
static void
summary(struct cli *c, const struct cli_put *p, const struct store_rec *old)
{
	char *buf = xmalloc(PROTO_MAX_VALUE * 4);
	size_t i;

	printf("\n%s %s:\n", old != NULL ? "Changes to" : "New", p->t->name);
	for (i = 0; i < p->n; i++) {
		cli_prepared_text(c, p->fv[i].f, p->fv[i].value, buf,
		    PROTO_MAX_VALUE * 4);
		cli_one_line(buf);
		if (strlen(buf) > 200)
			strcpy(buf + 197, "...");
		printf("  %-20s %s\n", p->fv[i].f->name, buf);
	}
	free(buf);
}

/* Tells whether p has a value for f. */
static int
find_given(const struct cli_put *p, const struct sch_field *f)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->fv[i].f == f)
			return 1;
	return 0;
}

int
cli_guided(struct cli *c, struct cli_put *p, const struct store_rec *old)
{
	int rest_skipped = 0, r;
	const struct sch_field *ask[PROTO_MAX_FIELDS + 4];
	char *why[PROTO_MAX_FIELDS + 4];
	char *def = NULL, *shown = NULL, today[11], *answer;
	size_t n = 0, i, k;
	int rc = EXIT_OK, edit_all = old != NULL && p->n == 0 &&
	    p->nerr == 0;

	for (i = 0; i < p->nerr; i++)
		if (p->err[i].f == NULL) {
			/* A mistake no question can fix: a field name. */
			cli_put_errors(c, p, NULL);
			return EXIT_USAGE;
		}
	if (edit_all) {
		for (i = 0; i < old->type->nfields; i++) {
			ask[n] = &old->type->fields[i];
			why[n++] = NULL;
		}
		printf("Editing %s %s: Enter keeps a value.\n", old->type->name,
		    cli_short(c, old->id));
	} else {
		for (i = 0; i < p->nerr; i++) {
			for (k = 0; k < n; k++)
				if (ask[k] == p->err[i].f)
					break;
			if (k < n)
				continue;
			ask[n] = p->err[i].f;
			why[n++] = xstrdup(p->err[i].msg);
		}
		/* Then every other field not given, skippable. */
		for (i = 0; i < p->t->nfields; i++) {
			const struct sch_field *f = &p->t->fields[i];

			for (k = 0; k < n; k++)
				if (ask[k] == f)
					break;
			if (k < n || find_given(p, f) ||
			    (strcmp(f->name, "site") == 0 &&
			    sch_field_find(p->t, "cafe", 4) != NULL))
				continue;
			ask[n] = f;
			why[n++] = NULL;
		}
		/* Asked in the schema's order. */
		for (i = 1; i < n; i++)
			for (k = i; k > 0 && ask[k - 1] > ask[k]; k--) {
				const struct sch_field *tf = ask[k];
				char *tw = why[k];

				ask[k] = ask[k - 1];
				why[k] = why[k - 1];
				ask[k - 1] = tf;
				why[k - 1] = tw;
			}
	}
	for (i = 0; i < n && rc == EXIT_OK; i++) {
		const struct sch_field *f = ask[i];
		const msgpack_object *v;
		const char *w = why[i];
		uint8_t last[PROTO_ID_LEN];

		if (rest_skipped && !f->required && !edit_all)
			continue;

		free(def);
		free(shown);
		def = shown = NULL;
		if (w != NULL && strstr(w, "is required") != NULL)
			w = NULL;
		if (old != NULL && (v = store_rec_value(old, f->name)) != NULL) {
			def = xmalloc(PROTO_MAX_VALUE * 4);
			shown = xmalloc(PROTO_MAX_VALUE * 4);
			sch_format(f, v, def, PROTO_MAX_VALUE * 4);
			cli_value_text(c, f, v, shown, PROTO_MAX_VALUE * 4);
			if (strlen(shown) > 60)
				strcpy(shown + 57, "...");
		} else if (old == NULL && f->type == SCH_DATE &&
		    strcmp(f->name, "date") == 0) {
			cli_local_date(0, today);
			def = xstrdup(today);
			shown = xstrdup(today);
		} else if (old == NULL && f->type == SCH_REF &&
		    strcmp(f->name, "cafe") == 0 && cli_last_added(c, sch_type_find(f->ref, strlen(f->ref)),
		    last) == 0) {
			/* The café just added, for its action or feedback. */
			def = xmalloc(2 * PROTO_ID_LEN + 1);
			proto_hex(def, last, PROTO_ID_LEN);
			shown = xmalloc(300);
			cli_ref_text(c, last, shown, 300);
		}
		r = ask_field(c, p, f, def, shown, w);
		if (r < 0) {
			printf("\n");
			cli_msg(c->cmd, "input ended: nothing saved");
			rc = EXIT_USAGE;
		} else if (r == 1)
			rest_skipped = 1;
	}
	free(def);
	free(shown);
	for (i = 0; i < n; i++)
		free(why[i]);
	if (rc != EXIT_OK)
		return rc;
	/* Defaults, required fields, unchanged ones, warnings: again. */
	for (i = 0; i < p->nwarn; i++)
		free(p->warn[i]);
	p->nwarn = 0;
	cli_put_finish(c, p, old);
	if (p->nerr > 0)
		return EXIT_USAGE;
	if (old != NULL && p->n == 0)
		return EXIT_OK;
	summary(c, p, old);
	for (i = 0; i < p->nwarn; i++)
		printf("  warning: %s\n", p->warn[i]);
	for (;;) {
		printf("Save? [Y/n] ");
		if ((answer = read_answer()) == NULL) {
			printf("\n");
			cli_msg(c->cmd, "input ended: nothing saved");
			return EXIT_USAGE;
		}
		if (answer[0] == '\0' || answer[0] == 'y' || answer[0] == 'Y') {
			free(answer);
			/* Warnings were shown: write_put() need not repeat. */
			for (i = 0; i < p->nwarn; i++)
				free(p->warn[i]);
			p->nwarn = 0;
			return EXIT_OK;
		}
		if (answer[0] == 'n' || answer[0] == 'N') {
			free(answer);
			cli_msg(c->cmd, "nothing saved");
			return EXIT_USAGE;
		}
		free(answer);
	}
}
