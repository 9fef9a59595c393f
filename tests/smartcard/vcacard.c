/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright The p11tls authors */
/* tests/smartcard/vcacard.c: the card of the smart-card test stack
 * (tests/smartcard/card_env.sh). Presents a libcacard virtual CAC card (its
 * keys and certificate on a PKCS#11 token that NSS sees, SoftHSM here) to
 * pcscd through the vsmartcard "vpcd" reader driver, so that OpenSC's
 * opensc-pkcs11.so reaches it over PC/SC as it reaches a physical card.
 * Written for p11tls after reading the unpackaged virt_cacard, which
 * OpenSC's CI uses for its CAC tests; single-threaded.
 *
 * vpcd listens on TCP (127.0.0.1:PORT); a card is "in the reader" while a
 * client is connected.  Protocol (all messages are 2-byte big-endian length
 * followed by the data; vpcd always sends first):
 *   len 1, 0x00  power off        (no reply)
 *   len 1, 0x01  power on         (no reply)
 *   len 1, 0x02  reset            (no reply)
 *   len 1, 0x04  get ATR          reply: len + ATR
 *   len N, APDU                   reply: len + R-APDU
 *
 * Hot-plug:  SIGUSR1 = remove the card (disconnect from vpcd),
 *            SIGUSR2 = insert it again (reconnect);
 *            SIGTERM/SIGINT = exit (the card disappears too).
 * The token state (keys, certs) lives in the PKCS#11 token, so it survives
 * removal/insertion and restarts of this process.
 *
 * The PIN retry counter. libcacard has none (SoftHSM behind it has no
 * lockout) and answers a wrong PIN with 6985, which OpenSC reports as
 * CKR_GENERAL_ERROR. This bridge keeps the counter a real card keeps: a
 * VERIFY with a wrong PIN answers 63Cx (x tries left; OpenSC:
 * CKR_PIN_INCORRECT), 6983 once none is left (the PIN is blocked: no
 * VERIFY reaches the token any more; CKR_PIN_LOCKED), a right one resets
 * it; a VERIFY without data (ISO 7816-4: the retry counter) answers 63Cx.
 * With -s FILE the counter is kept in FILE, across restarts of the bridge
 * (a card keeps it when pulled out).
 *
 * Usage: vcacard -d NSSDB_DIR [-p PORT] [-H HOST] [-R] [-t TRIES] [-s FILE] [-X] [-v]
 *   -R  start with the card removed (send SIGUSR2 to insert)
 *   -t  tries of a fresh counter (default 3)
 *   -X  no retry counter: libcacard's 6985 is passed through unchanged
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libcacard.h>

#define VPCD_CTRL_OFF 0
#define VPCD_CTRL_ON 1
#define VPCD_CTRL_RESET 2
#define VPCD_CTRL_ATR 4
#define BUFSZ 65540

static int verbose;
static int real_pin_errors = 1;
static VReader *reader;
static int max_tries = 3;
static int tries = -1;            /* left; read from tries_file, else max_tries */
static const char *tries_file;

static void load_tries(void)
{
	FILE *f = tries_file ? fopen(tries_file, "re") : NULL;
	tries = max_tries;
	if (f) {
		if (fscanf(f, "%d", &tries) != 1 || tries < 0 || tries > max_tries)
			tries = max_tries;
		fclose(f);
	}
}

static void save_tries(void)
{
	FILE *f;
	char tmp[4096];

	if (!tries_file)
		return;
	snprintf(tmp, sizeof tmp, "%s.new", tries_file);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "%d\n", tries);
	if (fclose(f) == 0)
		rename(tmp, tries_file);
}

/* The status word of a VERIFY answer with the counter: 63Cx, or 6983. */
static void counter_status(unsigned char *sw)
{
	sw[0] = tries > 0 ? 0x63 : 0x69;
	sw[1] = tries > 0 ? (unsigned char)(0xC0 | tries) : 0x83;
}

static void logmsg(const char *fmt, ...)
{
	va_list ap;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "vcacard[%d] %ld.%03ld: ", (int)getpid(), (long)ts.tv_sec,
		ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* drain libcacard's event queue so it does not grow */
static void *event_thread(void *arg)
{
	(void)arg;
	for (;;) {
		VEvent *ev = vevent_wait_next_vevent();
		if (ev == NULL)
			break;
		if (verbose)
			logmsg("libcacard event %d on %s", (int)ev->type,
			       ev->reader ? vreader_get_name(ev->reader) : "-");
		if (ev->type == VEVENT_LAST) {
			vevent_delete(ev);
			break;
		}
		vevent_delete(ev);
	}
	return NULL;
}

static VReader *find_reader_with_card(void)
{
	VReaderList *list = vreader_get_reader_list();
	VReaderListEntry *e;
	VReader *found = NULL;

	if (list == NULL)
		return NULL;
	for (e = vreader_list_get_first(list); e; e = vreader_list_get_next(e)) {
		VReader *r = vreader_list_get_reader(e);
		if (r && vreader_card_is_present(r) == VREADER_OK) {
			found = r; /* keep reference */
			break;
		}
		if (r)
			vreader_free(r);
	}
	vreader_list_delete(list);
	return found;
}

/* returns 1 on success, 0 on EOF, -1 on error */
static int read_full(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r;
		/* vpcd writes the 2-byte length and the data with two send()
		 * calls and no TCP_NODELAY: Nagle holds the data back until the
		 * length is ACKed, and a delayed ACK costs ~40 ms per message.
		 * Ask for an immediate ACK before every read. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
		r = read(fd, buf + got, n - got);
		if (r == 0)
			return 0;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 1;
}

static int write_msg(int fd, const unsigned char *data, size_t n)
{
	unsigned char hdr[2] = { (unsigned char)(n >> 8), (unsigned char)n };
	size_t off = 0;
	unsigned char *tmp = malloc(n + 2);
	if (!tmp)
		return -1;
	memcpy(tmp, hdr, 2);
	if (n)
		memcpy(tmp + 2, data, n);
	while (off < n + 2) {
		ssize_t w = write(fd, tmp + off, n + 2 - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			free(tmp);
			return -1;
		}
		off += (size_t)w;
	}
	free(tmp);
	return 0;
}

static int connect_vpcd(const char *host, int port, int sfd)
{
	struct sockaddr_in sa;
	int tries;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		logmsg("bad host %s (use a numeric IPv4 address)", host);
		return -1;
	}
	/* vpcd may not be listening yet (pcscd still starting): retry ~10 s */
	for (tries = 0; tries < 100; tries++) {
		int one = 1;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			return fd;
		}
		close(fd);
		if (sfd >= 0) {
			struct pollfd p = { .fd = sfd, .events = POLLIN };
			if (poll(&p, 1, 100) > 0)
				return -2; /* a signal arrived: let the caller handle it */
		} else {
			usleep(100000);
		}
	}
	logmsg("cannot connect to vpcd at %s:%d: %s", host, port, strerror(errno));
	return -1;
}

/* handle one message from vpcd; returns 0 ok, -1 connection closed/error */
static int handle_vpcd(int fd)
{
	static unsigned char buf[BUFSZ], resp[BUFSZ];
	unsigned char hdr[2];
	int len, rc;

	rc = read_full(fd, hdr, 2);
	if (rc <= 0)
		return -1;
	len = (hdr[0] << 8) | hdr[1];
	if (len > 0 && read_full(fd, buf, (size_t)len) <= 0)
		return -1;
	if (len == 1) {
		switch (buf[0]) {
		case VPCD_CTRL_OFF:
			if (verbose)
				logmsg("power off");
			vreader_power_off(reader);
			return 0;
		case VPCD_CTRL_ON:
			if (verbose)
				logmsg("power on");
			vreader_power_on(reader, NULL, NULL);
			return 0;
		case VPCD_CTRL_RESET:
			if (verbose)
				logmsg("reset");
			vreader_power_off(reader);
			vreader_power_on(reader, NULL, NULL);
			return 0;
		case VPCD_CTRL_ATR: {
			int atr_len = 64;
			vcard_emul_get_atr(NULL, resp, &atr_len);
			return write_msg(fd, resp, (size_t)atr_len);
		}
		default:
			/* a 1-byte APDU is invalid anyway; answer with an error SW */
			break;
		}
	}
	/* VERIFY (INS 20): the retry counter, see the top of this file. A
	 * short APDU without data (4 bytes, or 5 with Le) asks for it; a
	 * blocked PIN goes no further. */
	if (real_pin_errors && len >= 4 && buf[1] == 0x20 && (len <= 5 || tries == 0)) {
		counter_status(resp);
		if (verbose)
			logmsg("VERIFY %s: %d tries left", len <= 5 ? "(counter)" : "(blocked)", tries);
		return write_msg(fd, resp, 2);
	}
	{
		int resp_len = BUFSZ;
		VReaderStatus st = vreader_xfr_bytes(reader, buf, len, resp, &resp_len);
		if (st != VREADER_OK) {
			logmsg("vreader_xfr_bytes failed: %d", (int)st);
			resp[0] = 0x6F;
			resp[1] = 0x00;
			resp_len = 2;
		}
		/* libcacard answers a wrong PIN (VERIFY with data) with 6985,
		 * which OpenSC reports as CKR_GENERAL_ERROR; a real card says
		 * 63Cx (x tries left), which OpenSC maps to CKR_PIN_INCORRECT. */
		if (real_pin_errors && len > 5 && buf[1] == 0x20 && resp_len >= 2) {
			unsigned char *sw = resp + resp_len - 2;
			if (sw[0] == 0x90 && sw[1] == 0x00) {
				tries = max_tries;
			} else if ((sw[0] == 0x69 && sw[1] == 0x85) || sw[0] == 0x63) {
				tries--;
				counter_status(sw);
			}
			save_tries();
			if (verbose)
				logmsg("VERIFY: SW %02X%02X, %d tries left", sw[0], sw[1], tries);
		}
		if (verbose > 1)
			logmsg("APDU %02X %02X %02X %02X (%d bytes) -> SW %02X%02X (%d bytes)",
			       buf[0], len > 1 ? buf[1] : 0, len > 2 ? buf[2] : 0,
			       len > 3 ? buf[3] : 0, len, resp[resp_len - 2],
			       resp[resp_len - 1], resp_len);
		return write_msg(fd, resp, (size_t)resp_len);
	}
}

int main(int argc, char **argv)
{
	const char *db = NULL, *host = "127.0.0.1";
	int port = 35963, start_removed = 0, c, sfd, fd = -1;
	int inserted;
	char *opts;
	sigset_t mask;
	pthread_t th;

	while ((c = getopt(argc, argv, "d:p:H:Rt:s:Xvh")) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'H': host = optarg; break;
		case 'R': start_removed = 1; break;
		case 't': max_tries = atoi(optarg); break;
		case 's': tries_file = optarg; break;
		case 'X': real_pin_errors = 0; break;
		case 'v': verbose++; break;
		default:
			fprintf(stderr, "usage: %s -d NSSDB_DIR [-p PORT] [-H IPV4] [-R] [-t TRIES] [-s FILE] [-X] [-v]\n",
				argv[0]);
			return 2;
		}
	}
	if (max_tries < 1 || max_tries > 15) {
		fprintf(stderr, "-t: 1 to 15 tries\n");
		return 2;
	}
	load_tries();
	if (!db) {
		fprintf(stderr, "-d NSSDB_DIR is required\n");
		return 2;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);

	/* block the control signals in every thread (NSS/libcacard start
	 * threads) and receive them through a signalfd */
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("signalfd");
		return 1;
	}

	pthread_create(&th, NULL, event_thread, NULL);

	/* use_hw=removable: mirror every removable PKCS#11 slot of the NSS db
	 * (SoftHSM with slots.removable = true) as a virtual CAC card */
	opts = g_strdup_printf("db=\"sql:%s\" use_hw=removable", db);
	if (vcard_emul_init(vcard_emul_options(opts)) != VCARD_EMUL_OK) {
		logmsg("vcard_emul_init(%s) failed", opts);
		return 1;
	}
	g_free(opts);
	reader = find_reader_with_card();
	if (!reader) {
		logmsg("no removable token with a card found in NSS db %s "
		       "(SOFTHSM2_CONF set? token initialised? slots.removable = true?)", db);
		return 1;
	}
	logmsg("using token '%s'", vreader_get_name(reader));

	inserted = !start_removed;
	for (;;) {
		struct pollfd p[2];
		int n;

		if (inserted && fd < 0) {
			fd = connect_vpcd(host, port, sfd);
			if (fd == -1)
				return 1;
			if (fd == -2)
				fd = -1;
			else
				logmsg("card inserted (connected to vpcd %s:%d)", host, port);
		}
		p[0].fd = sfd;
		p[0].events = POLLIN;
		p[1].fd = fd;
		p[1].events = POLLIN;
		n = poll(p, fd >= 0 ? 2 : 1, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			return 1;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGUSR1) {
				if (fd >= 0) {
					close(fd);
					fd = -1;
				}
				if (inserted) {
					/* drop the emulated card too: login state etc. is lost */
					vcard_emul_force_card_remove(reader);
					logmsg("card removed");
				}
				inserted = 0;
			} else if (si.ssi_signo == SIGUSR2) {
				if (!inserted) {
					if (start_removed)
						start_removed = 0; /* emulated card never removed */
					else
						vcard_emul_force_card_insert(reader);
					inserted = 1; /* connect at loop top */
				}
			} else {
				logmsg("signal %d: exiting", (int)si.ssi_signo);
				if (fd >= 0)
					close(fd);
				/* skip NSS/libcacard teardown: it waits ~2 s for the
				 * token-event thread; nothing needs flushing */
				_exit(0);
			}
			continue;
		}
		if (fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			if (handle_vpcd(fd) < 0) {
				logmsg("vpcd closed the connection; reconnecting");
				close(fd);
				fd = -1;
				sleep(1);
			}
		}
	}
}
