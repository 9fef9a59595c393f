/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* pin.c - the PIN function of the p11tls tool. */
#define _DEFAULT_SOURCE 1 /* explicit_bzero */
#include "pin.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <p11tls/p11tls.h>
#include <p11tls/provision.h>

void cli_pin_init(cli_pin *p, int fd)
{
    memset(p, 0, sizeof(*p));
    p->fd = fd;
    p->so_fd = -1;
}

const char *cli_pin_problem(const cli_pin *p, int rc)
{
    if (rc == P11TLS_E_PIN_CANCELLED || rc == P11TLS_E_PIN_REQUIRED ||
        rc == P11TLS_E_PIN_INCORRECT)
        return p->problem;
    return NULL;
}

void cli_pin_wipe(cli_pin *p)
{
    explicit_bzero(p->cached, sizeof(p->cached));
    p->fd_ok = 0;
}

/* Reads one line (without its end) from fd into buf. Returns its length,
 * or -1 on a read error, -2 if it does not fit, -3 if it holds a NUL byte
 * (a C string would end there: "1234\0JUNK" must not be the PIN "1234").
 * One byte per read(2), so that nothing after the line is taken from fd
 * (set-pin reads a second line later). A line that does not fit is given
 * up after size bytes: a stream without a newline (/dev/zero) is refused,
 * not read forever. Except with drain (the terminal, whose lines the
 * kernel bounds): there the rest of the line is read and dropped, so that
 * no part of a PIN typed too long is left for the shell to read. Wipes
 * what it read on failure. */
static long read_line(int fd, char *buf, size_t size, int drain)
{
    size_t n = 0;
    int nul = 0, too_long = 0;
    char c = 0;

    for (;;) {
        ssize_t r = read(fd, &c, 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            explicit_bzero(buf, size);
            return -1;
        }
        if (r == 0 || c == '\n')
            break;
        if (n + 1 >= size) {
            too_long = 1;
            if (drain)
                continue;
            break;
        }
        if (c == '\0')
            nul = 1;
        buf[n++] = c;
    }
    explicit_bzero(&c, sizeof(c));
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (too_long || nul) {
        explicit_bzero(buf, size);
        return too_long ? -2 : -3;
    }
    return (long)n;
}

/* ---- /dev/tty with echo off, restored even on a fatal signal ---------- */

static volatile sig_atomic_t tty_fd = -1;
static struct termios tty_saved;

static const int tty_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
#define N_TTY_SIGNALS (sizeof(tty_signals) / sizeof(tty_signals[0]))

static void tty_restore_on_signal(int sig)
{
    int fd = tty_fd;
    if (fd >= 0)
        tcsetattr(fd, TCSAFLUSH, &tty_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void put_str(int fd, const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t w = write(fd, s, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        s += w;
        len -= (size_t)w;
    }
}

static int ask_tty(cli_pin *p, const char *label, unsigned flags, int confirm,
                   char *pin, size_t pin_size)
{
    struct sigaction sa, old[N_TTY_SIGNALS];
    struct termios noecho;
    char prompt[512];
    char why[128] = "";
    size_t i;
    long n;
    int fd;

    fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        p->problem = "no terminal to ask for the PIN (use --pin-fd)";
        return -1;
    }
    if (tcgetattr(fd, &tty_saved) != 0) {
        close(fd);
        p->problem = "cannot set up the terminal to ask for the PIN";
        return -1;
    }

    if (flags & P11TLS_PIN_WRONG)
        strcat(why, ", the previous PIN was refused");
    if (flags & P11TLS_PIN_FINAL_TRY)
        strcat(why, ", final try: a wrong PIN locks the token");
    else if (flags & P11TLS_PIN_COUNT_LOW)
        strcat(why, ", a wrong PIN was entered before");
    if (flags & P11TLS_PIN_CONTEXT_SPECIFIC)
        strcat(why, ", for this operation");
    snprintf(prompt, sizeof(prompt), "%s for token '%s'%s%s%s: ",
             (flags & P11TLS_PIN_CHANGE_NEW)   ? (confirm ? "New PIN again" : "New PIN")
             : (flags & P11TLS_PIN_CHANGE_OLD) ? "Current PIN"
             : (flags & P11TLS_PIN_SO)         ? "Security Officer PIN"
                                               : "PIN",
             label && *label ? label : "(no label)", why[0] ? " (" : "",
             why[0] ? why + 2 : "", why[0] ? ")" : "");

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = tty_restore_on_signal;
    sigemptyset(&sa.sa_mask);
    tty_fd = fd;
    for (i = 0; i < N_TTY_SIGNALS; i++)
        sigaction(tty_signals[i], &sa, &old[i]);

    noecho = tty_saved;
    noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
    noecho.c_lflag |= ICANON;
    /* Echo off (and type-ahead dropped) before the prompt shows: what is
     * typed once it shows is neither echoed nor thrown away. */
    tcsetattr(fd, TCSAFLUSH, &noecho);
    put_str(fd, prompt);
    n = read_line(fd, pin, pin_size, 1);
    tcsetattr(fd, TCSAFLUSH, &tty_saved);
    put_str(fd, "\n");

    tty_fd = -1;
    for (i = 0; i < N_TTY_SIGNALS; i++)
        sigaction(tty_signals[i], &old[i], NULL);
    close(fd);

    if (n == -2) {
        p->problem = "the PIN entered is too long";
        return -1;
    }
    if (n == -3) {
        p->problem = "the PIN entered holds a NUL byte; refused, not cut there";
        return -1;
    }
    if (n < 0) {
        p->problem = "cannot read the PIN from the terminal";
        return -1;
    }
    /* Enter alone is a cancel: an empty PIN would cost a token try. */
    if (n == 0) {
        p->problem = "no PIN entered";
        return -1;
    }
    return 0;
}

/* The new PIN of a PIN change, typed twice: confirming it is ours
 * (provision.h asks once). */
static int ask_new_tty(cli_pin *p, const char *label, unsigned flags, char *pin,
                       size_t pin_size)
{
    char again[CLI_PIN_MAX];
    int same;

    if (ask_tty(p, label, flags, 0, pin, pin_size) != 0)
        return -1;
    if (ask_tty(p, label, flags, 1, again, sizeof(again)) != 0) {
        explicit_bzero(pin, pin_size);
        return -1;
    }
    same = strcmp(pin, again) == 0;
    explicit_bzero(again, sizeof(again));
    if (!same) {
        explicit_bzero(pin, pin_size);
        p->problem = "the two new PINs differ";
        return -1;
    }
    return 0;
}

/* What is wrong with a PIN line read_line() refused, by -n (0 empty, -1
 * unreadable, -2 too long, -3 a NUL byte), for each line a PIN comes on. */
static const char *const kPinLine[4] = {
    "no PIN given on --pin-fd (its first line is empty)", "cannot read the PIN from --pin-fd",
    "the PIN from --pin-fd is too long (no newline within 255 bytes)",
    "the PIN from --pin-fd holds a NUL byte; refused, not cut there"};
static const char *const kNewPinLine[4] = {
    "no new PIN on --pin-fd (its second line is missing or empty)", "cannot read the new PIN from --pin-fd",
    "the new PIN from --pin-fd is too long",
    "the new PIN from --pin-fd holds a NUL byte; refused, not cut there"};
static const char *const kSoPinLine[4] = {
    "no SO PIN given on --so-pin-fd (its first line is empty)", "cannot read the SO PIN from --so-pin-fd",
    "the SO PIN from --so-pin-fd is too long",
    "the SO PIN from --so-pin-fd holds a NUL byte; refused, not cut there"};

/* One PIN line from fd into pin; -1 with *problem set from why. An empty
 * line is a cancel: an empty PIN would cost a try. */
static int read_pin_line(int fd, char *pin, size_t pin_size, const char *const why[4], const char **problem)
{
    long n = read_line(fd, pin, pin_size, 0);
    if (n > 0)
        return 0;
    *problem = why[n < -3 ? 1 : -n];
    return -1;
}

/* --pin-fd and a PIN change: the new PIN is the line after the current
 * one, read when asked for (never cached). */
static int read_new_fd(cli_pin *p, char *pin, size_t pin_size)
{
    return read_pin_line(p->fd, pin, pin_size, kNewPinLine, &p->problem);
}

/* --pin-fd: reads the PIN line into the cache, once. */
static int read_fd_once(cli_pin *p)
{
    p->fd_read = 1;
    if (read_pin_line(p->fd, p->cached, sizeof(p->cached), kPinLine, &p->fd_problem) != 0) {
        p->problem = p->fd_problem;
        return -1;
    }
    p->fd_ok = 1;
    return 0;
}

void cli_pin_read_now(cli_pin *p)
{
    if (p->fd >= 0 && !p->fd_read)
        (void)read_fd_once(p); /* a problem shows when the PIN is asked for */
}

/* --so-pin-fd: the SO PIN, read when asked (one login asks once). */
static int read_so_fd(cli_pin *p, char *pin, size_t pin_size)
{
    return read_pin_line(p->so_fd, pin, pin_size, kSoPinLine, &p->problem);
}

int cli_pin_fn(void *arg, const char *token_uri, const char *token_label,
               unsigned flags, char *pin, size_t pin_size)
{
    cli_pin *p = arg;
    size_t len;

    (void)token_uri;
    p->problem = NULL;
    if (pin == NULL || pin_size == 0)
        return -1;

    if (flags & P11TLS_PIN_SO)
        return p->so_fd >= 0 ? read_so_fd(p, pin, pin_size)
                             : (ask_tty(p, token_label, flags, 0, pin, pin_size) == 0 ? 0 : -1);

    if (p->fd < 0 && (flags & P11TLS_PIN_CHANGE_NEW))
        return ask_new_tty(p, token_label, flags, pin, pin_size);
    if (p->fd < 0)
        return ask_tty(p, token_label, flags, 0, pin, pin_size) == 0 ? 0 : -1;
    if (flags & P11TLS_PIN_CHANGE_NEW)
        return read_new_fd(p, pin, pin_size);

    /* --pin-fd: read once; never hand out the same PIN after a refusal. */
    if (flags & P11TLS_PIN_WRONG) {
        p->problem = "the PIN from --pin-fd was refused";
        return -1;
    }
    if (!p->fd_read && read_fd_once(p) != 0)
        return -1;
    if (!p->fd_ok) {
        p->problem = p->fd_problem ? p->fd_problem : "no usable PIN from --pin-fd";
        return -1;
    }
    len = strlen(p->cached);
    if (len + 1 > pin_size) {
        p->problem = "the PIN from --pin-fd is too long for the token";
        return -1;
    }
    memcpy(pin, p->cached, len + 1);
    return 0;
}
