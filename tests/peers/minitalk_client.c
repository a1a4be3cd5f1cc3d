/*
 * A classic minitalk client, written like the public implementations and
 * independently of sigchat: the tests compile it with gcc, once per convention.
 *
 *   client SERVER_PID MESSAGE            send MESSAGE (its bytes; UTF-8 as is)
 *   client SERVER_PID -x HEX             send the bytes written in HEX
 *   client SERVER_PID MESSAGE N MS       send the first N bits, go silent for
 *                                        MS ms, then send the whole message;
 *                                        MS < 0: exit after the N bits
 *
 * A whole convention of ../shared/notes/minitalk-conventions.md is one flag,
 * -DCONV_A ... -DCONV_L (conventions.h maps it to the flags below).
 *
 * Wire conventions (compile-time, like a student's fixed choices):
 *   -DLSB_FIRST          bits of a byte least significant first (default: most)
 *   -DONE_IS_USR1        SIGUSR1 = 1, SIGUSR2 = 0 (default: SIGUSR2 = 1)
 *   -DSIG_PLUS_BIT       send kill(pid, SIGUSR1 + bit), as code written on
 *                        macOS does (there SIGUSR1 + 1 is SIGUSR2; on Linux it
 *                        is SIGSEGV)
 *   -DLEN_BITS=32|64     send the length first, as one integer, bit by bit in
 *                        the same bit order; -DWITH_NUL sends the NUL too and
 *                        -DLEN_COUNTS_NUL counts it in the length
 *                        (default: no length, NUL-terminated)
 *   -DLEN_LE_BYTES       the length as its little-endian bytes (raw memory of
 *                        an x86 size_t), each byte in the bit order
 *   -DLEN_TYPED          first one signal that says how wide the length is
 *                        (SIGUSR1: 32 bits, SIGUSR2: 64 bits), then the length
 *   -DLEN_DEC10          the length as 10 ASCII decimal digits (zero padded),
 *                        one byte each
 *   -DACK_SIG=SIGUSR1    wait for this signal after every bit (the default)
 *   -DNO_ACK -DPACE_US=N no ack: usleep(N) after every bit and no signal
 *                        handler at all (an ack would kill this client)
 *   -DEND_ACK_SIG=S      after the last bit, wait up to -DEND_WAIT_MS=N
 *                        (default 5000) for S (-DEND_ACK_UNWAITED: do not
 *                        wait for it)
 *   -DHANDSHAKE          start with SIGUSR1 and wait for the answer:
 *                        -DHANDSHAKE_REPLY=S (default SIGUSR1), up to
 *                        -DHANDSHAKE_WAIT_MS=N (default 5000) each of
 *                        -DHANDSHAKE_TRIES=N tries (default 1); with
 *                        -DHANDSHAKE_REFUSE=S that answer means "busy": exit 1
 *   -DERROR_SIG=S        S from the server means an error: exit 1
 *   -DIGNORE_KILL_ERRORS kill() failures are not checked
 *   -DLINGER_MS=N        stay N ms after the message (signal dispositions
 *                        unchanged: a signal it does not catch kills it)
 *
 * How it waits for an ack (default: the signals are blocked except inside
 * sigsuspend/pselect, so an ack can never slip in before the wait). The other
 * styles leave the signals unblocked, as most students do, so an ack may be
 * handled before the wait starts:
 *   -DWAIT_SLEEP_US=N    usleep(N) unless the ack is already there; the ack's
 *                        handler cuts the sleep short; still no ack after it:
 *                        "server timed out", exit 1
 *   -DWAIT_SLEEP_S=N     sleep(N) after every signal; the ack must interrupt
 *                        it: a sleep that returns 0 is a lost ack, exit 1
 *                        (an ack handled before the sleep starts is lost too)
 *   -DWAIT_PAUSE         pause() after every signal (an ack handled before it
 *                        leaves the client hanging); -DAFTER_ACK_US=N usleep(N)
 *                        after each ack
 *   -DRESEND_MS=N        usleep(N ms) cut short by the ack; without an ack
 *                        send the same bit again (-DRESEND_TRIES, default 10,
 *                        then exit 1)
 *   -DPOLL_US=N          while (!acked) usleep(N); no timeout
 *
 * Exit status: 0 sent, 1 usage or a failure the client reports itself (timed
 * out, busy, error signal), 2 kill() failed, 3 no end ack in time.
 * alarm(30) ends a stuck client (killed by SIGALRM).
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "conventions.h"

#ifdef ONE_IS_USR1
# define ONE_SIG SIGUSR1
# define ZERO_SIG SIGUSR2
#else
# define ONE_SIG SIGUSR2
# define ZERO_SIG SIGUSR1
#endif
#if !defined(NO_ACK) && !defined(ACK_SIG)
# define ACK_SIG SIGUSR1
#endif
#ifndef PACE_US
# define PACE_US 100
#endif
#if !defined(LEN_BITS) && !defined(LEN_TYPED) && !defined(LEN_DEC10) && !defined(WITH_NUL)
# define WITH_NUL
#endif
#ifndef HANDSHAKE_REPLY
# define HANDSHAKE_REPLY SIGUSR1
#endif
#ifndef HANDSHAKE_TRIES
# define HANDSHAKE_TRIES 1
#endif
#ifndef HANDSHAKE_WAIT_MS
# define HANDSHAKE_WAIT_MS 5000
#endif
#ifndef END_WAIT_MS
# define END_WAIT_MS 5000
#endif
#ifndef RESEND_TRIES
# define RESEND_TRIES 10
#endif
#if defined(ACK_SIG) || defined(END_ACK_SIG) || defined(HANDSHAKE) || defined(ERROR_SIG)
# define HAS_HANDLER
#endif
#if defined(WAIT_SLEEP_US) || defined(WAIT_SLEEP_S) || defined(WAIT_PAUSE) || defined(RESEND_MS) || defined(POLL_US)
# define UNBLOCKED_WAIT
#endif
#if defined(END_ACK_SIG) && !defined(END_ACK_UNWAITED)
# define WAITS_FOR_END
#endif
#if defined(HANDSHAKE) || defined(WAITS_FOR_END)
# define USES_WAIT_FLAG
#endif
#if defined(HANDSHAKE) || defined(RESEND_MS) || defined(WAIT_SLEEP_US) || defined(WAIT_SLEEP_S)
# define USES_FAIL
#endif
#if defined(END_ACK_SIG) && defined(ACK_SIG) && END_ACK_SIG == ACK_SIG
# define END_IS_ACK /* the end ack is the signal after the last bit's ack */
#endif

enum { PHASE_HANDSHAKE, PHASE_MESSAGE, PHASE_END };

static volatile sig_atomic_t g_acked;
static volatile sig_atomic_t g_ended;
static volatile sig_atomic_t g_phase = PHASE_MESSAGE;
static pid_t g_server;
#if defined(HAS_HANDLER) && !defined(UNBLOCKED_WAIT)
static sigset_t g_wait_mask;
#endif
static long g_budget = -1; /* bits left to send before a stall; -1: no limit */

#ifdef USES_FAIL
static void fail(const char *why)
{
	fprintf(stderr, "%s\n", why);
	exit(1);
}
#endif

#ifdef HAS_HANDLER
# if defined(ERROR_SIG) || defined(HANDSHAKE_REFUSE)
/* Only write() and _exit() in here: a handler may interrupt printf. */
static void fail_now(const char *why)
{
	write(2, why, strlen(why));
	_exit(1);
}
# endif

static void on_signal(int sig, siginfo_t *info, void *context)
{
	(void)context;
	if (info->si_pid != g_server)
		return;
# ifdef HANDSHAKE
	if (g_phase == PHASE_HANDSHAKE) {
		if (sig == HANDSHAKE_REPLY)
			g_acked = 1;
#  ifdef HANDSHAKE_REFUSE
		else if (sig == HANDSHAKE_REFUSE)
			fail_now("server busy\n");
#  endif
		return;
	}
# endif
# ifdef ERROR_SIG
	if (sig == ERROR_SIG)
		fail_now("server reported an error\n");
# endif
# ifdef END_ACK_SIG
	/* When the end ack is the ack signal too (G), it is the one after the last
	 * bit's ack: PHASE_END. */
#  ifdef END_IS_ACK
	if (sig == END_ACK_SIG && g_phase == PHASE_END) {
#  else
	if (sig == END_ACK_SIG) {
#  endif
		g_ended = 1;
		return;
	}
# endif
# ifdef ACK_SIG
	if (sig == ACK_SIG)
		g_acked = 1;
# endif
}
#endif

static void send_signal(int sig)
{
#ifdef IGNORE_KILL_ERRORS
	kill(g_server, sig);
#else
	if (kill(g_server, sig) != 0) {
		perror("kill");
		exit(2);
	}
#endif
}

#ifdef USES_WAIT_FLAG
# if !defined(UNBLOCKED_WAIT) || defined(POLL_US)
static long elapsed_us(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000000L + (now.tv_nsec - since->tv_nsec) / 1000;
}
# endif

/* Wait up to timeout_us for *flag (set by the handler), in this client's
 * style; whether it was set. Used for the handshake answer and the end ack. */
static int wait_flag(volatile sig_atomic_t *flag, long timeout_us)
{
# if !defined(UNBLOCKED_WAIT)
	struct timespec start;

	/* Blocked signals: pselect unblocks them only while it sleeps. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!*flag) {
		long left = timeout_us - elapsed_us(&start);
		struct timespec wait_for;

		if (left <= 0)
			return 0;
		wait_for.tv_sec = left / 1000000L;
		wait_for.tv_nsec = (left % 1000000L) * 1000L;
		pselect(0, NULL, NULL, NULL, &wait_for, &g_wait_mask);
	}
	return 1;
# elif defined(POLL_US)
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!*flag && elapsed_us(&start) < timeout_us)
		usleep(POLL_US);
	return *flag;
# elif defined(WAIT_PAUSE)
	(void)timeout_us;
	while (!*flag)
		pause();
	return 1;
# else
	/* One sleep, cut short by the signal's handler. */
	if (!*flag) {
		struct timespec wait_for = {timeout_us / 1000000L, (timeout_us % 1000000L) * 1000L};

		nanosleep(&wait_for, NULL);
	}
	return *flag;
# endif
}
#endif

/* Send one signal the server answers with an ack (or, unacked, pace it). */
static void transmit(int sig)
{
#if defined(NO_ACK)
	send_signal(sig);
	usleep(PACE_US);
#elif defined(RESEND_MS)
	int tries;

	for (tries = 0;; tries++) {
		g_acked = 0;
		send_signal(sig);
		if (!g_acked)
			usleep(RESEND_MS * 1000);
		if (g_acked)
			break;
		if (tries == RESEND_TRIES)
			fail("server not responding");
		/* no ack in time: the same bit again (if the ack was only late, the
		 * server now has it twice) */
	}
#elif defined(WAIT_SLEEP_US)
	g_acked = 0;
	send_signal(sig);
	if (!g_acked)
		usleep(WAIT_SLEEP_US);
	if (!g_acked)
		fail("server timed out");
#elif defined(WAIT_SLEEP_S)
	g_acked = 0;
	send_signal(sig);
	if (sleep(WAIT_SLEEP_S) == 0)
		fail("no ack from the server");
#elif defined(WAIT_PAUSE)
	g_acked = 0;
	send_signal(sig);
	pause();
# ifdef AFTER_ACK_US
	usleep(AFTER_ACK_US);
# endif
#elif defined(POLL_US)
	g_acked = 0;
	send_signal(sig);
	while (!g_acked)
		usleep(POLL_US);
#else
	g_acked = 0;
	send_signal(sig);
	while (!g_acked)
		sigsuspend(&g_wait_mask);
#endif
}

static void send_bit(int bit)
{
	if (g_budget == 0)
		return;
	if (g_budget > 0)
		g_budget--;
#ifdef SIG_PLUS_BIT
	transmit(SIGUSR1 + bit);
#else
	transmit(bit ? ONE_SIG : ZERO_SIG);
#endif
}

static void send_bits(uint64_t value, int count)
{
	int i;

	for (i = 0; i < count; i++) {
#ifdef LSB_FIRST
		send_bit((int)((value >> i) & 1));
#else
		send_bit((int)((value >> (count - 1 - i)) & 1));
#endif
	}
}

static void handshake(void)
{
#ifdef HANDSHAKE
	int tries;

	g_phase = PHASE_HANDSHAKE;
	for (tries = 1;; tries++) {
		g_acked = 0;
		send_signal(SIGUSR1);
		if (wait_flag(&g_acked, HANDSHAKE_WAIT_MS * 1000L))
			break;
		if (tries >= HANDSHAKE_TRIES)
			fail("no answer to the handshake");
	}
	g_acked = 0;
	g_phase = PHASE_MESSAGE;
#endif
}

static void send_length(uint64_t length)
{
#if defined(LEN_DEC10)
	char digits[24];
	int i;

	snprintf(digits, sizeof(digits), "%010llu", (unsigned long long)length);
	for (i = 0; i < 10; i++)
		send_bits((unsigned char)digits[i], 8);
#elif defined(LEN_BITS) || defined(LEN_TYPED)
# ifdef LEN_TYPED
	int width = (length >> 32) ? 64 : 32;

	transmit(width == 64 ? SIGUSR2 : SIGUSR1);
# else
	int width = LEN_BITS;
# endif
# ifdef LEN_LE_BYTES
	int i;

	for (i = 0; i < width / 8; i++)
		send_bits((length >> (8 * i)) & 0xff, 8);
# else
	send_bits(length, width);
# endif
#else
	(void)length;
#endif
}

static void send_message(const unsigned char *data, size_t length)
{
	size_t i;
	uint64_t counted = length;

#ifdef LEN_COUNTS_NUL
	counted += 1;
#endif
	handshake();
	send_length(counted);
	for (i = 0; i < length; i++)
		send_bits(data[i], 8);
#ifdef WITH_NUL
	send_bits(0, 8);
#endif
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 0;
}

#ifdef HAS_HANDLER
static void install_handler(void)
{
	struct sigaction action;
	sigset_t block;

	memset(&action, 0, sizeof(action));
	action.sa_sigaction = on_signal;
	action.sa_flags = SA_SIGINFO; /* no SA_RESTART: the ack must cut sleeps short */
	sigemptyset(&action.sa_mask);
	sigemptyset(&block);
# ifdef ACK_SIG
	sigaction(ACK_SIG, &action, NULL);
	sigaddset(&block, ACK_SIG);
# endif
# ifdef END_ACK_SIG
	sigaction(END_ACK_SIG, &action, NULL);
	sigaddset(&block, END_ACK_SIG);
# endif
# ifdef HANDSHAKE
	sigaction(HANDSHAKE_REPLY, &action, NULL);
	sigaddset(&block, HANDSHAKE_REPLY);
#  ifdef HANDSHAKE_REFUSE
	sigaction(HANDSHAKE_REFUSE, &action, NULL);
	sigaddset(&block, HANDSHAKE_REFUSE);
#  endif
# endif
# ifdef ERROR_SIG
	sigaction(ERROR_SIG, &action, NULL);
	sigaddset(&block, ERROR_SIG);
# endif
# ifndef UNBLOCKED_WAIT
	/* Blocked except inside sigsuspend/pselect: an ack can never slip in
	 * between kill() and the wait (the classic minitalk race). */
	sigprocmask(SIG_BLOCK, &block, &g_wait_mask);
	sigdelset(&g_wait_mask, SIGUSR1);
	sigdelset(&g_wait_mask, SIGUSR2);
# endif
}
#endif

int main(int argc, char **argv)
{
	unsigned char *data;
	size_t length;
	size_t i;
	long stall_ms = 0;

	if (argc != 3 && argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s SERVER_PID MESSAGE [STALL_BITS STALL_MS] | SERVER_PID -x HEX\n", argv[0]);
		return 1;
	}
	g_server = (pid_t)atoi(argv[1]);
	if (g_server <= 0)
		return 1;
	if (argc == 4 && strcmp(argv[2], "-x") == 0) {
		length = strlen(argv[3]) / 2;
		data = malloc(length + 1);
		if (data == NULL)
			return 1;
		for (i = 0; i < length; i++)
			data[i] = (unsigned char)(hex_value(argv[3][2 * i]) * 16 + hex_value(argv[3][2 * i + 1]));
	} else {
		data = (unsigned char *)argv[2];
		length = strlen(argv[2]);
		if (argc == 5) {
			g_budget = atol(argv[3]);
			stall_ms = atol(argv[4]);
		}
	}
	alarm(30);
#ifdef HAS_HANDLER
	install_handler();
#endif
	if (g_budget >= 0) {
		struct timespec pause_for;

		send_message(data, length); /* stops after the budget */
		if (stall_ms < 0)
			return 0;
		pause_for.tv_sec = stall_ms / 1000;
		pause_for.tv_nsec = (stall_ms % 1000) * 1000000L;
		while (nanosleep(&pause_for, &pause_for) != 0 && errno == EINTR)
			;
		g_budget = -1;
	}
	send_message(data, length);
#ifdef WAITS_FOR_END
	g_phase = PHASE_END;
	if (!wait_flag(&g_ended, END_WAIT_MS * 1000L))
		return 3;
#endif
#ifdef LINGER_MS
	{
		struct timespec linger = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000000L};

		while (nanosleep(&linger, &linger) != 0 && errno == EINTR)
			;
	}
#endif
	return 0;
}
